"""Intake of automatic failure reports: Nova notifications, the migrations poller, a webhook.

Every source turns what it sees into a :class:`bot.cases.report.FailureReport` and submits
it to the case runner (:class:`bot.cases.manager.CaseManager`), which deduplicates, groups
storms and hands cases to the poster. ``runner.run_intake`` starts the enabled sources.
"""
