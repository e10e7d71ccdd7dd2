"""``buildiso report``: boot-test shard results merged into one JUnit file and a static HTML report.

results.py reads the folders ``buildiso boot-test`` wrote (summary.json, junit.xml, a folder
per cell); junitmerge.py merges the JUnit files; pages.py writes the HTML (plain HTML + CSS,
no network, works opened from disk); command.py is the verb.
"""
