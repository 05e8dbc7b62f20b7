"""An upload's life: the one owner of where an upload is (lifecycle), and everything done to it on
the way: received and staged chunk by chunk (pipeline, processing, staging), waiting for its
columns (pending), edited and searched as a draft (drafts, search), checked against the account
(accounts, capacity), given its batch's settings (batch, settings_catalogue), its users created
(creating, create_lease, linking, membership), undone (undo), listed (history), reported (report), kept
and purged (retention); API uploads' extras (api_imports).

No Reflex, no web: services/ call it with a company id; every id from outside is looked up
within that company (records).
"""
