"""Disaster recovery: `maestro backup|backups|restore|drill`.

- commands.py    the commands: backups and restores of a Patroni cluster through ansible/backup.yml and restore.yml
- pgbackrest.py  the one builder of pgBackRest command lines and reader of its answers; the restorable window
- kubernetes.py  `restore --stack`: a point-in-time clone next to the live cluster in the stack file, then a switch
"""
