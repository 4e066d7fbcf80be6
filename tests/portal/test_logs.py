import json
import logging
import logging.config

from portal.logs import log_config


def test_json_logs_are_one_object_a_line(capsys):
    logging.config.dictConfig(log_config("info", as_json=True))
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("portal").exception("unhandled error on %s", "/x")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    entry = json.loads(line)
    assert entry["level"] == "error"
    assert entry["logger"] == "portal"
    assert entry["message"] == "unhandled error on /x"
    assert "ValueError: boom" in entry["exception"]
    logging.config.dictConfig(log_config("warning", as_json=False))
