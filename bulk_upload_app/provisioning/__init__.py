"""Users an identity provider sends over SCIM, judged and created on the same engine as files
(scim_users); the SCIM protocol itself is the entry point `bulk_upload_app/scim/`."""
