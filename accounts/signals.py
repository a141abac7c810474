from django.dispatch import Signal

user_registered = Signal()
