"""Datasets of perception-r1: the schema (:mod:`.schema`), loaders and writers (:mod:`.io`), canonical visual
facts (:mod:`.facts`) and the synthetic geometry testbed (:mod:`.synth`).

Nothing heavy is imported here; import the submodules you need.
"""
