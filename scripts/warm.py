"""Waits (bounded) until each function answers through the Lambda Invoke API at
cargo lambda watch's endpoint. The first call of a function compiles it; every event here is
harmless (a read, an invalid insert, a wrong method for the backup)."""
import json
import pathlib
import sys
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
endpoint, bound = sys.argv[1].rstrip("/"), float(sys.argv[2])


def event(path):
    return json.loads((ROOT / "functions" / path).read_text())


get = event("getStudentData/events/get-students-page.json")
insert = event("insertStudentData/events/insert-student.json")
insert["body"] = ""  # refused with 400: nothing is written
backup = event("BackupDynamoDBAndSendEmail/events/backup-http.json")
backup["httpMethod"] = "GET"  # refused with 405: no backup is made
calls = {"getStudentData": (get, 200), "insertStudentData": (insert, 400), "BackupDynamoDBAndSendEmail": (backup, 405)}

deadline = time.monotonic() + bound
for name, (payload, expected) in calls.items():
    while True:
        try:
            request = urllib.request.Request(
                f"{endpoint}/2015-03-31/functions/{name}/invocations",
                data=json.dumps(payload).encode(),
                headers={"content-type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=max(1.0, deadline - time.monotonic())) as r:
                status = json.loads(r.read()).get("statusCode")
            if status == expected:
                break
            print(f"{name} answered {status}, expected {expected}", file=sys.stderr)
            sys.exit(1)
        except (OSError, ValueError):
            if time.monotonic() > deadline:
                print(f"{name} did not answer within {bound} s", file=sys.stderr)
                sys.exit(1)
            time.sleep(0.5)
