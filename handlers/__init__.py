"""Business operations shared by every channel: plain async functions, no HTTP, no XML."""
