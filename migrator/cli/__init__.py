"""The ``migrator`` management command's insides: thin adapters over :mod:`migrator.services`.

- :mod:`.arguments`: every subcommand and option, in one place;
- :mod:`.catalog_commands`, :mod:`.deployment_commands`: one ``cmd_*`` function per
  subcommand, calling a service;
- :mod:`.rendering`: text output (plans, dry-run reports, status);
- :mod:`.progress`: a bar on a terminal, timestamped lines for cron logs.
"""
