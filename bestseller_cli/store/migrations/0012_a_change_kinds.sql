-- The kinds of change are defined once, in kinds.py (ChangeKind): the database no longer
-- keeps its own copy of the list, so a new kind needs no change here.
ALTER TABLE bestseller_changes DROP CONSTRAINT bestseller_changes_kind_check;
