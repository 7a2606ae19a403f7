"""Team studies: roles (who may act as which name), the set-up of the project
directory (`annotator team init`) and its check (`annotator team status`), and who
annotates what (`assign`).

Modules are imported by name (`annotator.team.assign`): nothing heavy here, so the
annotation screen's start-up does not pay for team code it does not use.
"""
