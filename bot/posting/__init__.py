"""The Slack side of cases: post a case's live parent and thread, and storm incident parents.

- :mod:`bot.posting.case_poster` — ``SlackCasePoster``: diagnose one case and show it.
- :mod:`bot.posting.session` — ``CaseSession``: one run; drains the engine's event queue,
  keeps the parent current (``LiveMessage``, coalesced chat.update).
- :mod:`bot.posting.writer` — ``SlackWriter``: every write, ordered per thread, paced.
- :mod:`bot.posting.incidents` — ``SlackIncidentPoster``: a storm's parent and its breakdown.
- :mod:`bot.posting.storm` — ``StormBoard``: a storm's members grouped by cause, one reply each.
"""
