"""Who may act for a company: the dashboard's sign-in tokens (tokens) and the company's API keys
(api_keys). The HTTP check of a key (`Authorization: Bearer`) is the edge's: `http_auth.py`."""
