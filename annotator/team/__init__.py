"""Team studies: who annotates what (assignment), roles and the team server.

Modules are imported by name (`annotator.team.assign`): nothing heavy here, so the
annotation screen's start-up does not pay for team code it does not use.
"""
