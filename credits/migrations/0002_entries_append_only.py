"""Credit entries are append-only: the database refuses UPDATE and DELETE of any entry.

PostgreSQL only (production). On SQLite, the embedded demo mode, the rule is kept by the
code alone: Django's test flush empties tables with DELETE there, which a trigger would
refuse. TRUNCATE (a whole-ledger reset by an administrator) is not affected.
"""

from django.db import migrations

CREATE = """
CREATE FUNCTION credits_entry_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'credit entries are append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER credits_entry_append_only
    BEFORE UPDATE OR DELETE ON credits_creditentry
    FOR EACH ROW EXECUTE FUNCTION credits_entry_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS credits_entry_append_only ON credits_creditentry;
DROP FUNCTION IF EXISTS credits_entry_refuse_change();
"""


def _run(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)  # no parameters: "%" is PL/pgSQL text

    return run


class Migration(migrations.Migration):
    dependencies = [("credits", "0001_ledger")]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
