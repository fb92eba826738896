"""Python RedPipe's side of the interop test (tests/tests/python_interop.rs).

    interop.py PORT write TAG   writes the data set under id TAG with RedPipe
    interop.py PORT read TAG    reads id TAG with RedPipe, prints it as JSON
    interop.py PORT write-odd TAG   writes a record of values JSON round trips tend to change
    interop.py PORT check-odd TAG   reads it back, fails unless every value is as written
    interop.py PORT dump-json TAG   prints json.dumps(dict(Person(TAG)))
    interop.py PORT load-json TAG   writes Person(json.loads(stdin))
    interop.py PORT write-template TAG   writes TAG under a keyspace_template of its own
    interop.py PORT read-template TAG    reads it back, prints it as JSON
    interop.py PORT write-members TAG    writes a hash with integer member names (memberparse)
    interop.py PORT read-members TAG     reads it back, prints it as JSON

The Rust test writes the same data set with redpipe, then each side reads what the other
wrote: the declarations below and the Rust ones must describe the same keys and formats.
"""
import base64
import json
import math
import sys

import redis
import redpipe
from redpipe import (AsciiField, BinaryField, BooleanField, DictField,
                     FloatField, IntegerField, ListField, StringListField,
                     TextField)


class Beer(redpipe.Struct):
    keyspace = 'Beer'
    key_name = 'beer_id'
    fields = {
        'name': TextField,
        'abv': FloatField,
        'ibu': IntegerField,
        'on_tap': BooleanField,
        'tags': StringListField,
        'code': AsciiField,
        'label': BinaryField,
        'brewery': DictField,
        'history': ListField,
    }


class Note(redpipe.Struct):
    """Values a JSON round trip tends to change: floats needing 17 digits, keys out of order,
    and what Python's json writes but JSON does not have (NaN, Infinity)."""
    keyspace = 'Note'
    key_name = 'note_id'
    fields = {
        'nums': ListField,
        'meta': DictField,
        'odd': ListField,
        'count': IntegerField,
    }


def note(tag):
    return {
        'note_id': tag,
        'nums': [0.9999999999999999, 1.0, 1e-07, 5e-324, 0.30000000000000004, 2**53],
        'meta': {'b': 1, 'a': 2, 'z': {'y': [], 'x': 0.1}},
        'odd': [float('nan'), float('inf'), -float('inf'), 1],
        'count': 2**53,
    }


def write_odd(tag):
    with redpipe.autoexec() as pipe:
        Note(note(tag), pipe=pipe)


def same(a, b):
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return (isinstance(b, dict) and list(a) == list(b)
                and all(same(a[k], b[k]) for k in a))
    return type(a) is type(b) and a == b


def check_odd(tag):
    with redpipe.autoexec() as pipe:
        loaded = Note(tag, pipe=pipe)
    want = note(tag)
    for k, v in want.items():
        if not same(v, loaded[k]):
            sys.exit('%s: wrote %r, read %r' % (k, v, loaded[k]))


class Person(redpipe.Struct):
    """A struct as JSON: `dict(person)` through `json.dumps`, and back."""
    keyspace = 'Person'
    key_name = 'person_id'
    fields = {
        'name': TextField,
        'age': IntegerField,
        'height': FloatField,
        'admin': BooleanField,
        'tags': StringListField,
        'prefs': DictField,
    }


def dump_json(tag):
    with redpipe.autoexec() as pipe:
        person = Person(tag, pipe=pipe)
    print(json.dumps(dict(person)))


def load_json(tag):
    with redpipe.autoexec() as pipe:
        Person(json.loads(sys.stdin.read()), pipe=pipe)


class Views(redpipe.String):
    keyspace = 'V'
    valueparse = IntegerField


class Prices(redpipe.String):
    keyspace = 'P'
    valueparse = FloatField


class Tags(redpipe.Set):
    keyspace = 'T'


class Events(redpipe.List):
    keyspace = 'E'


class Scores(redpipe.SortedSet):
    keyspace = 'S'


class Visitors(redpipe.HyperLogLog):
    keyspace = 'HLL'


class Profile(redpipe.Hash):
    keyspace = 'PR'
    fields = {'age': IntegerField, 'tags': StringListField,
              'score': FloatField, 'vip': BooleanField}


class Index(redpipe.HashedString):
    keyspace = 'IDX'
    shard_count = 1000


class Counts(redpipe.String):
    """Keys `CT:TAG`, not `CT{TAG}`."""
    keyspace = 'CT'
    keyspace_template = '%s:%s'
    valueparse = IntegerField


def write_template(tag):
    with redpipe.autoexec() as pipe:
        Counts(pipe=pipe).set(tag, 7)
        Counts(pipe=pipe).incr(tag)


def read_template(tag):
    with redpipe.autoexec() as pipe:
        value = Counts(pipe=pipe).get(tag)
    print(json.dumps({'value': value.result, 'key': Counts.redis_key(tag).decode()}))


class Hours(redpipe.Hash):
    """Member names through a codec of their own: hours of the day."""
    keyspace = 'HR'
    memberparse = IntegerField
    valueparse = FloatField


def write_members(tag):
    with redpipe.autoexec() as pipe:
        Hours(pipe=pipe).hset(tag, 7, 1.5)
        Hours(pipe=pipe).hmset(tag, {8: 2.25, 10: -1.0})
        Hours(pipe=pipe).hincrbyfloat(tag, 7, 0.5)


def read_members(tag):
    with redpipe.autoexec() as pipe:
        everything = Hours(pipe=pipe).hgetall(tag)
        names = Hours(pipe=pipe).hkeys(tag)
        some = Hours(pipe=pipe).hmget(tag, [7, 8, 9])
        seven = Hours(pipe=pipe).hget(tag, 7)
    print(json.dumps({
        'all': sorted([m, v] for m, v in everything.result.items()),
        'names': sorted(names.result),
        'some': some.result,
        'seven': seven.result,
    }))


# Integers RedPipe keeps exactly (it writes them through a float: within 2**53).
VIEWS = {'': 42, 'big': 2**53 - 1, 'neg': -(2**53 - 1), 'zero': 0}
PRICES = {'a': 0.1, 'b': 1e16, 'c': 2.0, 'd': -1.5, 'e': 1e-05, 'f': 123456.789}
INDEX = ['foo123', 'bar', 'ünï', 'k' * 40]


def beers(tag):
    return [
        {
            'beer_id': tag + '-1',
            'name': 'Pliny the Elder \u00fc \u2603',
            'abv': 8.0,
            'ibu': 100,
            'on_tap': True,
            'tags': ['hoppy', 'west coast'],
            'code': 'PTE-1',
            'label': b'\x00\xffPNG\r\n',
            'brewery': {'city': 'Santa Rosa', 'founded': 1979,
                        'note': 'caf\u00e9', 'ratings': [4.5, 5, None, True]},
            'history': [1, 'two', 3.5, None, False, {'x': []}],
            'color': 'gold',
        },
        {
            # edge values: empty text, list, dict and bytes; a negative integer
            'beer_id': tag + '-2',
            'name': '',
            'abv': 0.5,
            'ibu': -5,
            'on_tap': False,
            'tags': [],
            'code': '',
            'label': b'',
            'brewery': {},
            'history': [],
        },
    ]


def write(tag):
    with redpipe.autoexec() as pipe:
        for beer in beers(tag):
            Beer(beer, pipe=pipe)
        for k, v in VIEWS.items():
            Views(pipe=pipe).set(tag + k, v)
        prices = Prices(pipe=pipe)
        for k, v in PRICES.items():
            prices.set(tag + k, v)
        Tags(pipe=pipe).sadd(tag, 'a', 'b', '\u00fc')
        Events(pipe=pipe).rpush(tag, 'x', 'y', 'z')
        scores = Scores(pipe=pipe)
        scores.zadd(tag, 'alice', 1.5)
        scores.zadd(tag, 'bob', 2)
        Visitors(pipe=pipe).pfadd(tag, 'u1', 'u2', 'u3')
        Profile(pipe=pipe).hmset(tag, {'age': 30, 'tags': ['a', 'b'],
                                       'score': 9.5, 'vip': False,
                                       'nick': 'jj'})
        index = Index(pipe=pipe)
        for k in INDEX:
            index.set(tag + k, 'v-' + k)


def plain(value):
    if isinstance(value, bytes):
        return {'base64': base64.b64encode(value).decode()}
    return value


def read(tag):
    with redpipe.autoexec() as pipe:
        loaded = [Beer(b['beer_id'], pipe=pipe) for b in beers(tag)]
        views = {k: Views(pipe=pipe).get(tag + k) for k in VIEWS}
        prices = {k: Prices(pipe=pipe).get(tag + k) for k in PRICES}
        tags = Tags(pipe=pipe).smembers(tag)
        events = Events(pipe=pipe).lrange(tag, 0, -1)
        scores = Scores(pipe=pipe).zrange(tag, 0, -1, withscores=True)
        visitors = Visitors(pipe=pipe).pfcount(tag)
        profile = Profile(pipe=pipe).hgetall(tag)
        index = {k: Index(pipe=pipe).get(tag + k) for k in INDEX}
    out = {
        'beers': [{k: plain(v) for k, v in dict(b).items()} for b in loaded],
        'views': {k: v.result for k, v in views.items()},
        'prices': {k: v.result for k, v in prices.items()},
        'tags': sorted(tags.result),
        'events': events.result,
        'scores': [[m, s] for m, s in scores.result],
        'visitors': visitors.result,
        'profile': profile.result,
        'index': {k: v.result for k, v in index.items()},
    }
    print(json.dumps(out, sort_keys=True))


def main():
    port, mode, tag = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    redpipe.connect_redis(redis.Redis(host='127.0.0.1', port=port))
    {'write': write, 'read': read, 'write-odd': write_odd,
     'check-odd': check_odd, 'dump-json': dump_json,
     'load-json': load_json, 'write-template': write_template,
     'read-template': read_template, 'write-members': write_members,
     'read-members': read_members}[mode](tag)


if __name__ == '__main__':
    main()
