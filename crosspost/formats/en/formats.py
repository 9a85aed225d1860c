# "5 Dec 2026, 14:30": day before month, so it cannot be misread, and a 24-hour clock.
DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = DATE_FORMAT
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
MONTH_DAY_FORMAT = "j F"  # the admin's date drill-down: "5 December"
