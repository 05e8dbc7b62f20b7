import sys

from bulk_upload_app.cli import main

sys.exit(main())
