"""Share-group administration for people: what the ``sharegroups`` command and the Django admin
share, so both behave alike.

:mod:`.client` opens the admin client from settings, :mod:`.targets` parses what people type
(reset targets, config changes), :mod:`.overview` gathers a group's state in one call,
:mod:`.actions` runs the dangerous actions and writes the audit log, :mod:`.serialize` turns
results into JSON-ready data, :mod:`.tables` and :mod:`.cli` render text for the terminal.
"""
