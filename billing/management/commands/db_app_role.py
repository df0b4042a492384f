"""manage.py db_app_role: create (or bring up to date) the PostgreSQL role the portal runs as,
which may read and write every table but may not UPDATE, DELETE or TRUNCATE the audit log and
the credit ledger: those stay append-only for the application even if its code or a stolen
database password tried otherwise (the ledger's trigger, credits 0002, also refuses the owner).

Run it as the role that owns the tables (the one `migrate` uses), after each `migrate`: the
default privileges it sets cover tables created later, and re-running is harmless. Then give
the web and worker processes a DATABASE_URL with the new role; `migrate` keeps the owner's.
"""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from psycopg import sql

from billing_portal.common.models import AuditEvent
from credits.models import CreditEntry

APPEND_ONLY = (AuditEvent, CreditEntry)


def append_only_tables() -> list[str]:
    return [model._meta.db_table for model in APPEND_ONLY]


def role_statements(role: str, password: str | None) -> list[sql.Composable]:
    """The statements, in order, that make `role` the application's role."""
    name = sql.Identifier(role)
    login = (
        sql.SQL("LOGIN PASSWORD {}").format(sql.Literal(password))
        if password
        else sql.SQL("NOLOGIN")
    )
    exists = "SELECT 1 FROM pg_roles WHERE rolname = current_setting('portal.app_role')"
    statements: list[sql.Composable] = [
        sql.SQL("SELECT set_config('portal.app_role', {}, true)").format(sql.Literal(role)),
        # CREATE ROLE has no IF NOT EXISTS; a DO block decides, the role's name passed in.
        sql.SQL(
            "DO $$ BEGIN IF NOT EXISTS (" + exists + ") THEN "
            "EXECUTE format('CREATE ROLE %I', current_setting('portal.app_role')); "
            "END IF; END $$"
        ),
        sql.SQL("ALTER ROLE {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS {}").format(
            name, login
        ),
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(connection.settings_dict["NAME"]), name
        ),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(name),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(
            name
        ),
        sql.SQL("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {}").format(name),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
        ).format(name),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            "GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {}"
        ).format(name),
    ]
    statements += [
        sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON {} FROM {}").format(sql.Identifier(table), name)
        for table in append_only_tables()
    ]
    return statements


class Command(BaseCommand):
    help = (
        "Create or update the PostgreSQL role the portal runs as: every table readable and "
        "writable, but no UPDATE, DELETE or TRUNCATE of the audit log and the credit ledger. "
        "Run as the tables' owner after each migrate."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("role", help="The role's name, e.g. portal_app.")
        parser.add_argument(
            "--password-env",
            metavar="VARIABLE",
            help="Make it a login role with the password in this environment variable "
            "(without it the role cannot log in, e.g. to be granted to a login role).",
        )

    def handle(self, *args, **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("Database roles exist on PostgreSQL only (DATABASE_URL).")
        password = None
        if options["password_env"]:
            password = os.environ.get(options["password_env"], "")
            if not password:
                raise CommandError(f"The variable {options['password_env']} is empty or unset.")
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in role_statements(options["role"], password):
                # Composed with the driver's quoting; no parameters, so "%" stays as written.
                cursor.execute(statement.as_string(cursor.connection))
        tables = ", ".join(append_only_tables())
        self.stdout.write(f"Role {options['role']}: read and write, append-only on {tables}.")
