# A stub of django-money for mypy: its own money.pyi (copied unchanged from 3.6.2) and the one
# field the portal uses, typed so that django-stubs lets a money column take Money.
