"""Sample app of the demo: tenants whose JSON config the demo catalog migrates."""
