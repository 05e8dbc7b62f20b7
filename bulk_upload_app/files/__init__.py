"""Reading and judging a users file: bytes to a table (reading/), its columns matched to our
fields (headers, column_aliases, matching), every row judged (validation, phones, countries) against
the template's columns (schema, template); and writing files that are safe to open (spreadsheet_out).

Pure engine: no database, no Reflex, no web. `intake` is the whole way from bytes to judged rows.
"""
