"""One row of `bestseller doctor`: a part, its status and what to do about it."""

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Finding:
    part: str
    status: Status
    detail: str
