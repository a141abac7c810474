"""Signals other apps listen to (earnings writes its record in a receiver).

`consultation_ended` is sent inside the transaction that ends a consultation (status `ended` or
`force_ended`), with `consultation=` the ended row: a receiver's writes commit or roll back with
the end itself.
"""

from django.dispatch import Signal

consultation_ended = Signal()
