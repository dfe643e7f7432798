"""What a doctor check reports: one finding, with its fix and, for the safe ones, the repair that
--fix runs. The checks (operations/doctor*.py) import it from here, not from doctor.py, which
imports the checks."""

from collections import namedtuple
from dataclasses import dataclass, field


@dataclass
class Finding:
    check: str
    severity: str  # info | warning | error
    message: str
    fix: str
    repair: object = field(default=None, repr=False)  # callable doing the safe fix, or None
    repair_says: str = ""  # what the repair does, asked before doing it

    def as_dict(self) -> dict:
        return {"check": self.check, "severity": self.severity, "message": self.message, "fix": self.fix,
                "fixable": self.repair is not None}


# What a check module declares (CHECK = Check(...)) beside its check(ctx): its name, where it is shown
# (order), its scope ("user": the user's set-up, which 'doctor NAME' skips; "environments"), what it
# looks at, what it finds and how that is fixed.
Check = namedtuple("Check", ["name", "order", "scope", "looks_at", "finding", "fix"])
