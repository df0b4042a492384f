"""Client-area pages that span apps: each module one area, its templates keeping their
names and directories, its URLs their names and paths (billing/urls/)."""
