"""Signed webhooks (Standard Webhooks 1.0): the HTTP client and the alert body."""
