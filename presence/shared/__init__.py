"""What the apps share: the API's error format and permission classes, and the report registry.

- `presence.shared.errors`: ApplicationError answers and DRF's exception handler (JSON messages).
- `presence.shared.permissions`: the API's permission classes (IsAgent, IsSupervisor, ...).
- `presence.shared.reports`: Report, Period, REPORTS and register_report, and interval helpers.
"""
