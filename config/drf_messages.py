"""Django REST framework's messages that this API can answer with, for our Hindi catalogue.

DRF ships no Hindi; its messages are lazy `gettext` calls, so an entry for the same English
text in our catalogue (locale/hi) translates them. Listing them here (`gettext_noop`, nothing
runs) is how `makemessages` finds them; config/tests/test_languages.py checks every one has a
translation. Placeholders in braces are DRF's and stay as they are.
"""

from django.utils.translation import gettext_noop

MESSAGES = [
    gettext_noop('"{input}" is not a valid choice.'),
    gettext_noop("A valid integer is required."),
    gettext_noop("A valid number is required."),
    gettext_noop("A server error occurred."),
    gettext_noop("Authentication credentials were not provided."),
    gettext_noop("Date has wrong format. Use one of these formats instead: {format}."),
    gettext_noop("Datetime has wrong format. Use one of these formats instead: {format}."),
    gettext_noop("Datetime value out of range."),
    gettext_noop("Time has wrong format. Use one of these formats instead: {format}."),
    gettext_noop("Ensure this field has at least {min_length} characters."),
    gettext_noop("Ensure this field has no more than {max_length} characters."),
    gettext_noop("Ensure this field has at least {min_length} elements."),
    gettext_noop("Ensure this field has no more than {max_length} elements."),
    gettext_noop("Ensure this value is greater than or equal to {min_value}."),
    gettext_noop("Ensure this value is less than or equal to {max_value}."),
    gettext_noop("Enter a valid email address."),
    gettext_noop("Expected a date but got a datetime."),
    gettext_noop("Expected a datetime but got a date."),
    gettext_noop('Expected a dictionary of items but got type "{input_type}".'),
    gettext_noop('Expected a list of items but got type "{input_type}".'),
    gettext_noop("Incorrect authentication credentials."),
    gettext_noop("Invalid cursor"),
    gettext_noop("Invalid data. Expected a dictionary, but got {datatype}."),
    gettext_noop("Invalid input."),
    gettext_noop("Invalid page."),
    gettext_noop("Malformed request."),
    gettext_noop('Method "{method}" not allowed.'),
    gettext_noop("Must be a valid UUID."),
    gettext_noop("Must be a valid boolean."),
    gettext_noop("No file was submitted."),
    gettext_noop("Not a valid string."),
    gettext_noop("Not found."),
    gettext_noop("Request was throttled."),
    gettext_noop("String value too large."),
    gettext_noop("Surrogate characters are not allowed: U+{code_point:X}."),
    gettext_noop("The submitted data was not a file. Check the encoding type on the form."),
    gettext_noop("The submitted file is empty."),
    gettext_noop("This dictionary may not be empty."),
    gettext_noop("This field is required."),
    gettext_noop("This field may not be blank."),
    gettext_noop("This field may not be null."),
    gettext_noop("This list may not be empty."),
    gettext_noop("This value does not match the required pattern."),
    gettext_noop('Unsupported media type "{media_type}" in request.'),
    gettext_noop("You do not have permission to perform this action."),
]
