"""The safe fixes as data: the one OpenStack call each makes (``calls``) and where the
root-cause card offers them (``offers``). Pure of Slack listeners and of posting, so both
the card (``bot.posting``) and the clicks (``bot.actions``) use the same definitions."""
