"""OrderEvent is append-only: the database refuses UPDATE and DELETE on it."""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION orders_orderevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'orders_orderevent is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER orders_orderevent_no_update BEFORE UPDATE OR DELETE ON orders_orderevent
    FOR EACH ROW EXECUTE FUNCTION orders_orderevent_append_only();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS orders_orderevent_no_update ON orders_orderevent;
DROP FUNCTION IF EXISTS orders_orderevent_append_only();
"""
SQLITE_FORWARD = [
    "CREATE TRIGGER orders_orderevent_no_update BEFORE UPDATE ON orders_orderevent "
    "BEGIN SELECT RAISE(ABORT, 'orders_orderevent is append-only'); END;",
    "CREATE TRIGGER orders_orderevent_no_delete BEFORE DELETE ON orders_orderevent "
    "BEGIN SELECT RAISE(ABORT, 'orders_orderevent is append-only'); END;",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS orders_orderevent_no_update;",
    "DROP TRIGGER IF EXISTS orders_orderevent_no_delete;",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD)
    elif schema_editor.connection.vendor == "sqlite":
        for sql in SQLITE_FORWARD:
            schema_editor.execute(sql)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD)
    elif schema_editor.connection.vendor == "sqlite":
        for sql in SQLITE_BACKWARD:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
