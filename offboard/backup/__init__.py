"""Nightly backups into a destination, and their upkeep: retention (``offboard prune``),
checking (``offboard check``) and scheduling (``offboard schedule``)."""
