"""TechEmpower's six tests on Flask 3 with psycopg 3, as a Flask user writes them first.

Run under gunicorn with sync workers, one connection per worker process (a sync worker
serves one request at a time), statements prepared on the server:

    DATABASE_URL=postgresql://benchmarkdbuser:benchmarkdbpass@127.0.0.1:5432/hello_world \
      gunicorn --chdir scripts/tfb/flask -w 3 -b 127.0.0.1:18303 app:app

The fortunes page is erlen's example's template, rendered by Jinja (autoescaped, as Flask
does for .html templates).
"""

import os
import random

import psycopg
from flask import Flask, g, jsonify, render_template, request

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "..", "..", "..", "examples", "techempower", "templates")
DATABASE_URL = os.environ.get(
    "DATABASE_URL", "postgresql://benchmarkdbuser:benchmarkdbpass@127.0.0.1:5432/hello_world"
)
SELECT_WORLD = "SELECT id, randomnumber FROM world WHERE id = %s"
SELECT_FORTUNES = "SELECT id, message FROM fortune"
UPDATE_WORLDS = (
    "UPDATE world SET randomnumber = new.randomnumber "
    "FROM UNNEST(%s::int[], %s::int[]) AS new(id, randomnumber) WHERE world.id = new.id"
)

app = Flask(__name__, template_folder=TEMPLATES)
app.json.sort_keys = False
_connection = None


def db():
    """This worker's connection, made on first use (after gunicorn forks)."""
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(DATABASE_URL, autocommit=True)
    return _connection


def query_count():
    try:
        n = int(request.args.get("queries", "1"))
    except ValueError:
        return 1
    return min(max(n, 1), 500)


def random_worlds(cur, n):
    worlds = []
    for _ in range(n):
        cur.execute(SELECT_WORLD, (random.randint(1, 10000),), prepare=True)
        id, number = cur.fetchone()
        worlds.append({"id": id, "randomNumber": number})
    return worlds


@app.after_request
def server_header(response):
    response.headers["Server"] = "flask"
    return response


@app.route("/plaintext")
def plaintext():
    return "Hello, World!", 200, {"Content-Type": "text/plain"}


@app.route("/json")
def json():
    return jsonify(message="Hello, World!")


@app.route("/db")
def single():
    with db().cursor() as cur:
        return jsonify(random_worlds(cur, 1)[0])


@app.route("/queries")
def queries():
    with db().cursor() as cur:
        return jsonify(random_worlds(cur, query_count()))


@app.route("/fortunes")
def fortunes():
    with db().cursor() as cur:
        cur.execute(SELECT_FORTUNES, prepare=True)
        rows = [{"id": id, "message": message} for id, message in cur.fetchall()]
    rows.append({"id": 0, "message": "Additional fortune added at request time."})
    rows.sort(key=lambda f: f["message"])
    return render_template("fortunes.html", fortunes=rows)


@app.route("/updates")
def updates():
    with db().cursor() as cur:
        worlds = random_worlds(cur, query_count())
        for world in worlds:
            world["randomNumber"] = random.randint(1, 10000)
        last = {w["id"]: w["randomNumber"] for w in worlds}
        ids = sorted(last)
        cur.execute(UPDATE_WORLDS, (ids, [last[i] for i in ids]), prepare=True)
    return jsonify(worlds)
