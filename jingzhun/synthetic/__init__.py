"""Synthetic data for jingzhun: a Pudong-like district on the real administrative divisions, one day
of messy checkpoint / 12345 hotline / health-cloud exports, and the ground truth linking them.

Entry point: ``jingzhun.synthetic.generate.generate``. Nothing here ever reads or emits real personal data.
"""
