"""A team on one server: roles (who may act as which name), the set-up of the
project directory (`annotator team init`) and its check (`annotator team status`)."""
