"""Entry of the `{{name}}` Warden plugin, componentized by ./build.

componentize-py generates the bindings (``wit_world``) from wit/ at build
time and looks up the export classes in this module by interface name."""

import tools  # noqa: F401  (registers the tools)
from warden_sdk import serve

Tools, *_ = serve()
