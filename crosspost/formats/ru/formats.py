# "05.12.2026 14:30": the usual Russian numeric date and a 24-hour clock.
DATE_FORMAT = "d.m.Y"
SHORT_DATE_FORMAT = DATE_FORMAT
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "d.m.Y H:i"
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
MONTH_DAY_FORMAT = "j E"  # the admin's date drill-down: "5 декабря", not "5 Декабрь"
