"""Feedback (回流): the work lists staff fill in (核查结果 / 处置时间 / 备注) and return to `INBOX/feedback/`.

The next run reads them, closes the cases they answer, stores what staff said (`feedback`, `feedback_labels`)
and measures disposal time against the deadline. Must never crash on a returned file and never change a case
from a line it could not trust: such lines are reported, in words, with their file and row.
"""
