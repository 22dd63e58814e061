"""Operator tools: `omnicard reconcile` (see README, Operations)."""
