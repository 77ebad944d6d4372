/* test_shadow.c - AWS IoT Device Shadow document logic: a table of stored documents, requests
 * and the exact payloads AWS publishes in answer (accepted, rejected, delta, documents) and the
 * document left stored, compared as JSON values; then a few whole life cycles.
 *
 * JSON in the table is written with ' for " (and ` for a literal '), and <X*N> stands for N
 * letters x, so that size limits can be hit exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "error.h"
#include "shadow/shadow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum op { UPDATE, GET, DELETE };

struct tcase {
    const char *label;
    const char *stored; /* NULL: never created; {'deleted':N}; else a SNAP() */
    enum op op;
    const char *payload;
    int64_t now;
    int code;                                            /* 0 accepted */
    const char *accepted, *rejected, *delta, *documents; /* NULL: must not be produced */
    const char *after; /* the document stored after an accepted request, NULL: not checked */
};

/* ---- building the expected documents ---- */

#define M1 "{'timestamp':100}"
#define M2 "{'timestamp':200}"
#define TOK ",'clientToken':'tok'"
#define SNAP(state, meta, ver) "{'state':" state ",'metadata':" meta ",'version':" #ver "}"
#define ACC(state, meta, ver, x)                                                                   \
    "{'state':" state ",'metadata':" meta ",'version':" #ver ",'timestamp':200" x "}"
#define DELTA(state, meta, ver, x)                                                                 \
    "{'version':" #ver ",'timestamp':200,'state':" state ",'metadata':" meta x "}"
#define DOCS(prev, cur, x) "{'previous':" prev ",'current':" cur ",'timestamp':200" x "}"
#define REJ(code, msg, x) "{'code':" #code ",'message':'" msg "','timestamp':200" x "}"
#define GOT(state, meta, ver, x)                                                                   \
    "{'state':" state ",'metadata':" meta ",'version':" #ver ",'timestamp':200" x "}"
#define DEL(ver, x) "{'version':" #ver ",'timestamp':200" x "}"

/* A shadow whose device has not yet applied the color it was asked for. */
#define B_STATE "{'desired':{'color':'red','temp':20},'reported':{'color':'blue','temp':20}}"
#define B_META                                                                                     \
    "{'desired':{'color':" M1 ",'temp':" M1 "},'reported':{'color':" M1 ",'temp':" M1 "}}"
#define BASIC SNAP(B_STATE, B_META, 3)

/* The same, with desired and reported in agreement. */
#define SYNC                                                                                       \
    SNAP("{'desired':{'on':true},'reported':{'on':true}}",                                         \
         "{'desired':{'on':" M1 "},'reported':{'on':" M1 "}}", 7)

#define INVALID_JSON REJ(400, "Invalid JSON", "")
#define NEST_MSG "JSON contains too many levels of nesting; maximum is 6"
#define TOO_BIG "The payload exceeds the maximum size allowed"
#define BAD_UTF8 "Unsupported documented encoding; supported encoding is UTF-8"
#define NOT_FOUND REJ(404, "No shadow exists with name: `myThing`", "")

#define TOKEN64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const struct tcase cases[] = {
    /* ---- creation ---- */
    {.label = "create desired: delta, documents without previous",
     .op = UPDATE,
     .payload = "{'state':{'desired':{'color':'red'}}}",
     .now = 200,
     .accepted = ACC("{'desired':{'color':'red'}}", "{'desired':{'color':" M2 "}}", 1, ""),
     .delta = DELTA("{'color':'red'}", "{'color':" M2 "}", 1, ""),
     .documents =
         DOCS("null", SNAP("{'desired':{'color':'red'}}", "{'desired':{'color':" M2 "}}", 1), ""),
     .after = SNAP("{'desired':{'color':'red'}}", "{'desired':{'color':" M2 "}}", 1)},
    {.label = "create reported only: no delta",
     .op = UPDATE,
     .payload = "{'state':{'reported':{'temp':21.5}}}",
     .now = 200,
     .accepted = ACC("{'reported':{'temp':21.5}}", "{'reported':{'temp':" M2 "}}", 1, ""),
     .documents =
         DOCS("null", SNAP("{'reported':{'temp':21.5}}", "{'reported':{'temp':" M2 "}}", 1), ""),
     .after = SNAP("{'reported':{'temp':21.5}}", "{'reported':{'temp':" M2 "}}", 1)},
    {.label = "clientToken echoed in accepted, delta and documents",
     .op = UPDATE,
     .payload = "{'state':{'desired':{'on':false}},'clientToken':'tok'}",
     .now = 200,
     .accepted = ACC("{'desired':{'on':false}}", "{'desired':{'on':" M2 "}}", 1, TOK),
     .delta = DELTA("{'on':false}", "{'on':" M2 "}", 1, TOK),
     .documents =
         DOCS("null", SNAP("{'desired':{'on':false}}", "{'desired':{'on':" M2 "}}", 1), TOK)},
    {.label = "create both sections with an injected clock",
     .op = UPDATE,
     .payload = "{'state':{'desired':{'a':1},'reported':{'a':2}}}",
     .now = 1591141596,
     .accepted = "{'state':{'desired':{'a':1},'reported':{'a':2}},'metadata':{'desired':{'a':{"
                 "'timestamp':1591141596}},'reported':{'a':{'timestamp':1591141596}}},'version':1,"
                 "'timestamp':1591141596}",
     .delta = "{'version':1,'timestamp':1591141596,'state':{'a':1},'metadata':{'a':{'timestamp':"
              "1591141596}}}",
     .documents = "{'previous':null,'current':{'state':{'desired':{'a':1},'reported':{'a':2}},"
                  "'metadata':{'desired':{'a':{'timestamp':1591141596}},'reported':{'a':{"
                  "'timestamp':1591141596}}},'version':1},'timestamp':1591141596}"},
    {.label = "an object of nulls creates an existing but empty shadow",
     .op = UPDATE,
     .payload = "{'state':{'desired':{'a':{'b':null}}}}",
     .now = 200,
     .accepted = ACC("{'desired':{'a':{'b':null}}}", "{'desired':{'a':{'b':" M2 "}}}", 1, ""),
     .documents = DOCS("null", SNAP("{}", "{}", 1), ""),
     .after = SNAP("{}", "{}", 1)},

    /* ---- merge ---- */
    {.label = "merge one desired key: others keep value and timestamp",
     .stored = BASIC,
     .op = UPDATE,
     .payload = "{'state':{'desired':{'color':'green'}}}",
     .now = 200,
     .accepted = ACC("{'desired':{'color':'green'}}", "{'desired':{'color':" M2 "}}", 4, ""),
     .delta = DELTA("{'color':'green'}", "{'color':" M2 "}", 4, ""),
     .documents = DOCS(BASIC,
                       SNAP("{'desired':{'color':'green','temp':20},'reported':{'color':'blue',"
                            "'temp':20}}",
                            "{'desired':{'color':" M2 ",'temp':" M1 "},'reported':{'color':" M1
                            ",'temp':" M1 "}}",
                            4),
                       "")},
    {.label = "reported catches up with desired: no delta",
     .stored = BASIC,
     .op = UPDATE,
     .payload = "{'state':{'reported':{'color':'red'}}}",
     .now = 200,
     .accepted = ACC("{'reported':{'color':'red'}}", "{'reported':{'color':" M2 "}}", 4, ""),
     .documents = DOCS(BASIC,
                       SNAP("{'desired':{'color':'red','temp':20},'reported':{'color':'red',"
                            "'temp':20}}",
                            "{'desired':{'color':" M1 ",'temp':" M1 "},'reported':{'color':" M2
                            ",'temp':" M1 "}}",
                            4),
                       "")},
    {.label = "reported-only update still publishes the whole remaining delta",
     .stored = BASIC,
     .op = UPDATE,
     .payload = "{'state':{'reported':{'temp':21}}}",
     .now = 200,
     .accepted = ACC("{'reported':{'temp':21}}", "{'reported':{'temp':" M2 "}}", 4, ""),
     .delta = DELTA("{'color':'red','temp':20}", "{'color':" M1 ",'temp':" M1 "}", 4, "")},
    {.label = "nested merge and null delete (the spec's example)",
     .stored = SNAP("{'desired':{'color':{'r':255,'g':0},'mode':'A'}}",
                    "{'desired':{'color':{'r':" M1 ",'g':" M1 "},'mode':" M1 "}}", 1),
     .op = UPDATE,
     .payload = "{'state':{'desired':{'color':{'g':255},'mode':null}}}",
     .now = 200,
     .accepted = ACC("{'desired':{'color':{'g':255},'mode':null}}",
                     "{'desired':{'color':{'g':" M2 "},'mode':" M2 "}}", 2, ""),
     .delta = DELTA("{'color':{'r':255,'g':255}}", "{'color':{'r':" M1 ",'g':" M2 "}}", 2, ""),
     .after = SNAP("{'desired':{'color':{'r':255,'g':255}}}",
                   "{'desired':{'color':{'r':" M1 ",'g':" M2 "}}}", 2)},
    {.label = "null for an absent key changes nothing but is echoed with a timestamp",
     .stored = SYNC,
     .op = UPDATE,
     .payload = "{'state':{'reported':{'ghost':null}}}",
     .now = 200,
     .accepted = ACC("{'reported':{'ghost':null}}", "{'reported':{'ghost':" M2 "}}", 8, ""),
     .after = SNAP("{'desired':{'on':true},'reported':{'on':true}}",
                   "{'desired':{'on':" M1 "},'reported':{'on':" M1 "}}", 8)},
    {.label = "desired null removes the section and its metadata",
     .stored = BASIC,
     .op = UPDATE,
     .payload = "{'state':{'desired':null}}",
     .now = 200,
     .accepted = ACC("{'desired':null}", "{'desired':" M2 "}", 4, ""),
     .documents = DOCS(BASIC,
                       SNAP("{'reported':{'color':'blue','temp':20}}",
                            "{'reported':{'color':" M1 ",'temp':" M1 "}}", 4),
                       "")},
    {.label = "reported null: the delta becomes all of desired",
     .stored = BASIC,
     .op = UPDATE,
     .payload = "{'state':{'reported':null}}",
     .now = 200,
     .accepted = ACC("{'reported':null}", "{'reported':" M2 "}", 4, ""),
     .delta = DELTA("{'color':'red','temp':20}", "{'color':" M1 ",'temp':" M1 "}", 4, ""),
     .after = SNAP("{'desired':{'color':'red','temp':20}}",
                   "{'desired':{'color':" M1 ",'temp':" M1 "}}", 4)},
    {.label = "state null clears everything, the shadow stays and its version moves",
     .stored = BASIC,
     .op = UPDATE,
     .payload = "{'state':null,'clientToken':'tok'}",
     .now = 200,
     .accepted = ACC("null", M2, 4, TOK),
     .documents = DOCS(BASIC, SNAP("{}", "{}", 4), TOK),
     .after = SNAP("{}", "{}", 4)},
    {.label = "empty state is accepted and bumps the version",
     .stored = BASIC,
     .op = UPDATE,
     .payload = "{'state':{}}",
     .now = 200,
     .accepted = ACC("{}", "{}", 4, ""),
     .delta = DELTA("{'color':'red'}", "{'color':" M1 "}", 4, ""),
     .documents = DOCS(BASIC, SNAP(B_STATE, B_META, 4), "")},
    {.label = "deleting the last keys prunes the emptied objects and section",
     .stored = SNAP("{'desired':{'a':{'b':{'c':1}}},'reported':{'x':1}}",
                    "{'desired':{'a':{'b':{'c':" M1 "}}},'reported':{'x':" M1 "}}", 2),
     .op = UPDATE,
     .payload = "{'state':{'desired':{'a':{'b':{'c':null}}}}}",
     .now = 200,
     .accepted =
         ACC("{'desired':{'a':{'b':{'c':null}}}}", "{'desired':{'a':{'b':{'c':" M2 "}}}}", 3, ""),
     .after = SNAP("{'reported':{'x':1}}", "{'reported':{'x':" M1 "}}", 3)},
    {.label = "an empty object over a stored object changes nothing",
     .stored = SNAP("{'desired':{'a':{'b':1}}}", "{'desired':{'a':{'b':" M1 "}}}", 1),
     .op = UPDATE,
     .payload = "{'state':{'desired':{'a':{}}}}",
     .now = 200,
     .accepted = ACC("{'desired':{'a':{}}}", "{'desired':{'a':{}}}", 2, ""),
     .delta = DELTA("{'a':{'b':1}}", "{'a':{'b':" M1 "}}", 2, ""),
     .after = SNAP("{'desired':{'a':{'b':1}}}", "{'desired':{'a':{'b':" M1 "}}}", 2)},
    {.label = "an empty object over a scalar is not stored: the key goes",
     .stored = SNAP("{'reported':{'a':5,'b':6}}", "{'reported':{'a':" M1 ",'b':" M1 "}}", 1),
     .op = UPDATE,
     .payload = "{'state':{'reported':{'a':{}}}}",
     .now = 200,
     .accepted = ACC("{'reported':{'a':{}}}", "{'reported':{'a':{}}}", 2, ""),
     .after = SNAP("{'reported':{'b':6}}", "{'reported':{'b':" M1 "}}", 2)},
    {.label = "type change object to scalar replaces value and metadata",
     .stored =
         SNAP("{'reported':{'a':{'b':1,'c':2}}}", "{'reported':{'a':{'b':" M1 ",'c':" M1 "}}}", 1),
     .op = UPDATE,
     .payload = "{'state':{'reported':{'a':'flat'}}}",
     .now = 200,
     .accepted = ACC("{'reported':{'a':'flat'}}", "{'reported':{'a':" M2 "}}", 2, ""),
     .after = SNAP("{'reported':{'a':'flat'}}", "{'reported':{'a':" M2 "}}", 2)},
    {.label = "type change scalar to object: nulls inside it are dropped",
     .stored = SNAP("{'reported':{'a':5}}", "{'reported':{'a':" M1 "}}", 1),
     .op = UPDATE,
     .payload = "{'state':{'reported':{'a':{'b':1,'c':null}}}}",
     .now = 200,
     .accepted = ACC("{'reported':{'a':{'b':1,'c':null}}}",
                     "{'reported':{'a':{'b':" M2 ",'c':" M2 "}}}", 2, ""),
     .after = SNAP("{'reported':{'a':{'b':1}}}", "{'reported':{'a':{'b':" M2 "}}}", 2)},
    {.label = "type change scalar to array",
     .stored = SNAP("{'reported':{'a':5}}", "{'reported':{'a':" M1 "}}", 1),
     .op = UPDATE,
     .payload = "{'state':{'reported':{'a':[true,'x']}}}",
     .now = 200,
     .accepted = ACC("{'reported':{'a':[true,'x']}}", "{'reported':{'a':[" M2 "," M2 "]}}", 2, ""),
     .after = SNAP("{'reported':{'a':[true,'x']}}", "{'reported':{'a':[" M2 "," M2 "]}}", 2)},

    /* ---- arrays ---- */
    {.label = "an array replaces the stored array wholesale",
     .stored =
         SNAP("{'reported':{'list':[1,2,3]}}", "{'reported':{'list':[" M1 "," M1 "," M1 "]}}", 4),
     .op = UPDATE,
     .payload = "{'state':{'reported':{'list':[4]}}}",
     .now = 200,
     .accepted = ACC("{'reported':{'list':[4]}}", "{'reported':{'list':[" M2 "]}}", 5, ""),
     .after = SNAP("{'reported':{'list':[4]}}", "{'reported':{'list':[" M2 "]}}", 5)},
    {.label = "array metadata has one timestamp per element (the ColorRGB example)",
     .op = UPDATE,
     .payload = "{'state':{'desired':{'ColorRGB':[255,255,0]}},'clientToken':'tok'}",
     .now = 200,
     .accepted = ACC("{'desired':{'ColorRGB':[255,255,0]}}",
                     "{'desired':{'ColorRGB':[" M2 "," M2 "," M2 "]}}", 1, TOK),
     .delta = DELTA("{'ColorRGB':[255,255,0]}", "{'ColorRGB':[" M2 "," M2 "," M2 "]}", 1, TOK)},
    {.label = "arrays of objects get nested per-element metadata",
     .op = UPDATE,
     .payload = "{'state':{'reported':{'l':[{'a':1},{'b':[1,2]},[3]]}}}",
     .now = 200,
     .accepted = ACC("{'reported':{'l':[{'a':1},{'b':[1,2]},[3]]}}",
                     "{'reported':{'l':[{'a':" M2 "},{'b':[" M2 "," M2 "]},[" M2 "]]}}", 1, "")},
    {.label = "an empty array is stored, its metadata is an empty array",
     .op = UPDATE,
     .payload = "{'state':{'reported':{'l':[]}}}",
     .now = 200,
     .accepted = ACC("{'reported':{'l':[]}}", "{'reported':{'l':[]}}", 1, ""),
     .after = SNAP("{'reported':{'l':[]}}", "{'reported':{'l':[]}}", 1)},
    {.label = "a null element in an array is refused",
     .op = UPDATE,
     .payload = "{'state':{'reported':{'l':[1,null]}}}",
     .now = 200,
     .code = 400,
     .rejected = INVALID_JSON},
    {.label = "a null element in an array nested in an array's object is refused",
     .op = UPDATE,
     .payload = "{'state':{'desired':{'l':[{'m':[null]}]}},'clientToken':'tok'}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, "Invalid JSON", TOK)},

    /* ---- delta ---- */
    {.label = "1 and 1.0 are equal: no delta",
     .stored = SNAP("{'desired':{'t':1}}", "{'desired':{'t':" M1 "}}", 1),
     .op = UPDATE,
     .payload = "{'state':{'reported':{'t':1.0}}}",
     .now = 200,
     .accepted = ACC("{'reported':{'t':1.0}}", "{'reported':{'t':" M2 "}}", 2, "")},
    {.label = "numbers inside arrays compare by value too",
     .stored = SNAP("{'desired':{'t':[1,{'u':2}]}}", "{'desired':{'t':[" M1 ",{'u':" M1 "}]}}", 1),
     .op = UPDATE,
     .payload = "{'state':{'reported':{'t':[1.0,{'u':2.0}]}}}",
     .now = 200,
     .accepted = ACC("{'reported':{'t':[1.0,{'u':2.0}]}}",
                     "{'reported':{'t':[" M2 ",{'u':" M2 "}]}}", 2, "")},
    {.label = "1.5 and 1 differ",
     .stored = SNAP("{'desired':{'t':1.5}}", "{'desired':{'t':" M1 "}}", 1),
     .op = UPDATE,
     .payload = "{'state':{'reported':{'t':1}}}",
     .now = 200,
     .accepted = ACC("{'reported':{'t':1}}", "{'reported':{'t':" M2 "}}", 2, ""),
     .delta = DELTA("{'t':1.5}", "{'t':" M1 "}", 2, "")},
    {.label = "nested delta keeps the path and only the differing leaves",
     .stored = SNAP("{'desired':{'lights':{'color':{'r':1,'g':255},'on':true}},"
                    "'reported':{'lights':{'color':{'r':1,'g':0},'on':true}}}",
                    "{'desired':{'lights':{'color':{'r':" M1 ",'g':" M1 "},'on':" M1 "}},"
                    "'reported':{'lights':{'color':{'r':" M1 ",'g':" M1 "},'on':" M1 "}}}",
                    9),
     .op = UPDATE,
     .payload = "{'state':{'reported':{'lights':{'on':true}}},'clientToken':'tok'}",
     .now = 200,
     .accepted = ACC("{'reported':{'lights':{'on':true}}}", "{'reported':{'lights':{'on':" M2 "}}}",
                     10, TOK),
     .delta =
         DELTA("{'lights':{'color':{'g':255}}}", "{'lights':{'color':{'g':" M1 "}}}", 10, TOK)},
    {.label = "desired object against reported scalar: the whole object is in the delta",
     .stored = SNAP("{'reported':{'a':7}}", "{'reported':{'a':" M1 "}}", 1),
     .op = UPDATE,
     .payload = "{'state':{'desired':{'a':{'x':1,'y':[2]}}}}",
     .now = 200,
     .accepted = ACC("{'desired':{'a':{'x':1,'y':[2]}}}",
                     "{'desired':{'a':{'x':" M2 ",'y':[" M2 "]}}}", 2, ""),
     .delta = DELTA("{'a':{'x':1,'y':[2]}}", "{'a':{'x':" M2 ",'y':[" M2 "]}}", 2, "")},
    {.label = "differing arrays: the whole desired array, with its element metadata",
     .stored = SNAP("{'desired':{'l':[1,2]}}", "{'desired':{'l':[" M1 "," M1 "]}}", 1),
     .op = UPDATE,
     .payload = "{'state':{'reported':{'l':[1,2,3],'extra':'only reported'}}}",
     .now = 200,
     .accepted = ACC("{'reported':{'l':[1,2,3],'extra':'only reported'}}",
                     "{'reported':{'l':[" M2 "," M2 "," M2 "],'extra':" M2 "}}", 2, ""),
     .delta = DELTA("{'l':[1,2]}", "{'l':[" M1 "," M1 "]}", 2, "")},
    {.label = "a key removed from reported but still desired comes back into the delta",
     .stored = SYNC,
     .op = UPDATE,
     .payload = "{'state':{'reported':{'on':null}}}",
     .now = 200,
     .accepted = ACC("{'reported':{'on':null}}", "{'reported':{'on':" M2 "}}", 8, ""),
     .delta = DELTA("{'on':true}", "{'on':" M1 "}", 8, ""),
     .after = SNAP("{'desired':{'on':true}}", "{'desired':{'on':" M1 "}}", 8)},
    {.label = "strings and booleans compare strictly by type",
     .stored = SNAP("{'desired':{'b':true,'s':'1'}}", "{'desired':{'b':" M1 ",'s':" M1 "}}", 1),
     .op = UPDATE,
     .payload = "{'state':{'reported':{'b':1,'s':1}}}",
     .now = 200,
     .accepted = ACC("{'reported':{'b':1,'s':1}}", "{'reported':{'b':" M2 ",'s':" M2 "}}", 2, ""),
     .delta = DELTA("{'b':true,'s':'1'}", "{'b':" M1 ",'s':" M1 "}", 2, "")},

    /* ---- versions ---- */
    {.label = "matching version is accepted",
     .stored = BASIC,
     .op = UPDATE,
     .payload = "{'state':{'reported':{'color':'red'}},'version':3}",
     .now = 200,
     .accepted = ACC("{'reported':{'color':'red'}}", "{'reported':{'color':" M2 "}}", 4, "")},
    {.label = "stale version: 409 with the clientToken",
     .stored = BASIC,
     .op = UPDATE,
     .payload = "{'state':{'reported':{'color':'red'}},'version':2,'clientToken':'tok'}",
     .now = 200,
     .code = 409,
     .rejected = REJ(409, "Version conflict", TOK)},
    {.label = "future version: 409",
     .stored = BASIC,
     .op = UPDATE,
     .payload = "{'state':{'reported':{'color':'red'}},'version':4}",
     .now = 200,
     .code = 409,
     .rejected = REJ(409, "Version conflict", "")},
    {.label = "version 0 on a shadow never created is accepted",
     .op = UPDATE,
     .payload = "{'state':{'reported':{'a':1}},'version':0}",
     .now = 200,
     .accepted = ACC("{'reported':{'a':1}}", "{'reported':{'a':" M2 "}}", 1, "")},
    {.label = "version 1 on a shadow never created conflicts",
     .op = UPDATE,
     .payload = "{'state':{'reported':{'a':1}},'version':1}",
     .now = 200,
     .code = 409,
     .rejected = REJ(409, "Version conflict", "")},
    {.label = "update after delete continues the numbering, no previous document",
     .stored = "{'deleted':5}",
     .op = UPDATE,
     .payload = "{'state':{'desired':{'a':1}}}",
     .now = 200,
     .accepted = ACC("{'desired':{'a':1}}", "{'desired':{'a':" M2 "}}", 6, ""),
     .delta = DELTA("{'a':1}", "{'a':" M2 "}", 6, ""),
     .documents = DOCS("null", SNAP("{'desired':{'a':1}}", "{'desired':{'a':" M2 "}}", 6), ""),
     .after = SNAP("{'desired':{'a':1}}", "{'desired':{'a':" M2 "}}", 6)},
    {.label = "update after delete with the deleted shadow's version",
     .stored = "{'deleted':5}",
     .op = UPDATE,
     .payload = "{'state':{'reported':{'a':1}},'version':5}",
     .now = 200,
     .accepted = ACC("{'reported':{'a':1}}", "{'reported':{'a':" M2 "}}", 6, "")},
    {.label = "version as a string",
     .stored = BASIC,
     .op = UPDATE,
     .payload = "{'state':{},'version':'3'}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, "Invalid version", "")},
    {.label = "negative version",
     .op = UPDATE,
     .payload = "{'state':{},'version':-1,'clientToken':'tok'}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, "Invalid version", TOK)},
    {.label = "version as a real",
     .stored = BASIC,
     .op = UPDATE,
     .payload = "{'state':{},'version':3.0}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, "Invalid version", "")},
    {.label = "version null",
     .stored = BASIC,
     .op = UPDATE,
     .payload = "{'state':{},'version':null}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, "Invalid version", "")},

    /* ---- clientToken ---- */
    {.label = "clientToken of exactly 64 bytes",
     .op = UPDATE,
     .payload = "{'state':{'reported':{'a':1}},'clientToken':'" TOKEN64 "'}",
     .now = 200,
     .accepted = ACC("{'reported':{'a':1}}", "{'reported':{'a':" M2 "}}", 1,
                     ",'clientToken':'" TOKEN64 "'")},
    {.label = "clientToken of 65 bytes is refused and not echoed",
     .op = UPDATE,
     .payload = "{'state':{'reported':{'a':1}},'clientToken':'" TOKEN64 "x'}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, "Invalid clientToken", "")},
    {.label = "clientToken that is not a string",
     .op = UPDATE,
     .payload = "{'state':{'reported':{'a':1}},'clientToken':42}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, "Invalid clientToken", "")},
    {.label = "clientToken of 64 bytes counted in bytes, not characters (é is 2)",
     .op = UPDATE,
     .payload = "{'state':{'reported':{'a':1}},'clientToken':'" TOKEN64 "\xc3\xa9'}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, "Invalid clientToken", "")},

    /* ---- request validation, in AWS's order ---- */
    {.label = "not JSON",
     .op = UPDATE,
     .payload = "{'state':",
     .now = 200,
     .code = 400,
     .rejected = INVALID_JSON},
    {.label = "empty update payload",
     .op = UPDATE,
     .payload = "",
     .now = 200,
     .code = 400,
     .rejected = INVALID_JSON},
    {.label = "top-level array",
     .op = UPDATE,
     .payload = "[{'state':{}}]",
     .now = 200,
     .code = 400,
     .rejected = INVALID_JSON},
    {.label = "not UTF-8: 415",
     .op = UPDATE,
     .payload = "{'state':{'reported':{'a':'\xff'}}}",
     .now = 200,
     .code = 415,
     .rejected = REJ(415, BAD_UTF8, "")},
    {.label = "UTF-8 surrogate bytes: 415",
     .op = UPDATE,
     .payload = "{'state':{'reported':{'a':'\xed\xa0\x80'}}}",
     .now = 200,
     .code = 415,
     .rejected = REJ(415, BAD_UTF8, "")},
    {.label = "missing state, clientToken still echoed",
     .op = UPDATE,
     .payload = "{'desired':{'a':1},'clientToken':'tok'}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, "Missing required node: state", TOK)},
    {.label = "state is a number",
     .op = UPDATE,
     .payload = "{'state':5}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, "State node must be an object", "")},
    {.label = "state is an array",
     .op = UPDATE,
     .payload = "{'state':[{'desired':{}}]}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, "State node must be an object", "")},
    {.label = "desired is a number",
     .op = UPDATE,
     .payload = "{'state':{'desired':5}}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, "Desired node must be an object", "")},
    {.label = "desired is an array",
     .op = UPDATE,
     .payload = "{'state':{'desired':[1]}}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, "Desired node must be an object", "")},
    {.label = "reported is a string",
     .op = UPDATE,
     .payload = "{'state':{'reported':'on'},'clientToken':'tok'}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, "Reported node must be an object", TOK)},
    {.label = "desired is checked before reported",
     .op = UPDATE,
     .payload = "{'state':{'reported':1,'desired':true}}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, "Desired node must be an object", "")},
    {.label = "delta in the request state is an invalid node",
     .stored = BASIC,
     .op = UPDATE,
     .payload = "{'state':{'desired':{'a':1},'delta':{'a':1}}}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, "State contains an invalid node: `delta`", "")},
    {.label = "section types are checked before unknown nodes",
     .op = UPDATE,
     .payload = "{'state':{'metadata':{},'reported':[]}}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, "Reported node must be an object", "")},
    {.label = "the state is checked before the clientToken",
     .op = UPDATE,
     .payload = "{'state':{'other':1},'clientToken':7}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, "State contains an invalid node: `other`", "")},
    {.label = "unknown top-level keys are ignored",
     .op = UPDATE,
     .payload = "{'state':{'reported':{'a':1}},'metadata':{'x':1},'timestamp':5,'other':[null]}",
     .now = 200,
     .accepted = ACC("{'reported':{'a':1}}", "{'reported':{'a':" M2 "}}", 1, "")},

    /* ---- depth ---- */
    {.label = "depth 6: desired.a.b.c.d.e is a leaf",
     .op = UPDATE,
     .payload = "{'state':{'desired':{'a':{'b':{'c':{'d':{'e':1}}}}}}}",
     .now = 200,
     .accepted = ACC("{'desired':{'a':{'b':{'c':{'d':{'e':1}}}}}}",
                     "{'desired':{'a':{'b':{'c':{'d':{'e':" M2 "}}}}}}", 1, ""),
     .delta =
         DELTA("{'a':{'b':{'c':{'d':{'e':1}}}}}", "{'a':{'b':{'c':{'d':{'e':" M2 "}}}}}", 1, "")},
    {.label = "depth 7 is refused",
     .op = UPDATE,
     .payload = "{'state':{'desired':{'a':{'b':{'c':{'d':{'e':{'f':1}}}}}}}}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, NEST_MSG, "")},
    {.label = "an empty object at level 6 is a seventh level",
     .op = UPDATE,
     .payload = "{'state':{'reported':{'a':{'b':{'c':{'d':{'e':{}}}}}}},'clientToken':'tok'}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, NEST_MSG, TOK)},
    {.label = "arrays count as levels: four nested arrays under a key fit",
     .op = UPDATE,
     .payload = "{'state':{'reported':{'a':[[[[1]]]]}}}",
     .now = 200,
     .accepted = ACC("{'reported':{'a':[[[[1]]]]}}", "{'reported':{'a':[[[[" M2 "]]]]}}", 1, "")},
    {.label = "arrays count as levels: five do not",
     .op = UPDATE,
     .payload = "{'state':{'reported':{'a':[[[[[1]]]]]}}}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, NEST_MSG, "")},
    {.label = "depth is checked before the version conflict",
     .stored = BASIC,
     .op = UPDATE,
     .payload = "{'state':{'desired':{'a':{'b':{'c':{'d':{'e':[1]}}}}}},'version':1}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, NEST_MSG, "")},

    /* ---- size ---- */
    {.label = "state of exactly 8192 bytes is accepted",
     .op = UPDATE,
     .payload = "{'state':{'desired':{'k':'<X*8184>'}}}",
     .now = 200,
     .accepted = ACC("{'desired':{'k':'<X*8184>'}}", "{'desired':{'k':" M2 "}}", 1, ""),
     .delta = DELTA("{'k':'<X*8184>'}", "{'k':" M2 "}", 1, "")},
    {.label = "state of 8193 bytes: 413",
     .op = UPDATE,
     .payload = "{'state':{'desired':{'k':'<X*8185>'}},'clientToken':'tok'}",
     .now = 200,
     .code = 413,
     .rejected = REJ(413, TOO_BIG, TOK)},
    {.label = "size counts desired plus reported after the merge: 8192 fits",
     .stored = SNAP("{'reported':{'r':'<X*4000>'}}", "{'reported':{'r':" M1 "}}", 1),
     .op = UPDATE,
     .payload = "{'state':{'desired':{'k':'<X*4176>'}}}",
     .now = 200,
     .accepted = ACC("{'desired':{'k':'<X*4176>'}}", "{'desired':{'k':" M2 "}}", 2, ""),
     .delta = DELTA("{'k':'<X*4176>'}", "{'k':" M2 "}", 2, "")},
    {.label = "size counts desired plus reported after the merge: 8193 does not",
     .stored = SNAP("{'reported':{'r':'<X*4000>'}}", "{'reported':{'r':" M1 "}}", 1),
     .op = UPDATE,
     .payload = "{'state':{'desired':{'k':'<X*4177>'}}}",
     .now = 200,
     .code = 413,
     .rejected = REJ(413, TOO_BIG, "")},
    {.label = "shrinking an oversized merge back under the limit is accepted",
     .stored = SNAP("{'reported':{'r':'<X*8184>'}}", "{'reported':{'r':" M1 "}}", 1),
     .op = UPDATE,
     .payload = "{'state':{'reported':{'r':null,'s':'<X*8184>'}}}",
     .now = 200,
     .accepted = ACC("{'reported':{'r':null,'s':'<X*8184>'}}",
                     "{'reported':{'r':" M2 ",'s':" M2 "}}", 2, "")},
    {.label = "escapes count as serialized: quotes and a newline, 8192 bytes in all",
     .op = UPDATE,
     .payload = "{'state':{'reported':{'k':'<Q*4091>\\n'}}}",
     .now = 200,
     .accepted = ACC("{'reported':{'k':'<Q*4091>\\n'}}", "{'reported':{'k':" M2 "}}", 1, "")},
    {.label = "escapes count as serialized: one byte more is too big",
     .op = UPDATE,
     .payload = "{'state':{'reported':{'k':'<Q*4091>\\na'}}}",
     .now = 200,
     .code = 413,
     .rejected = REJ(413, TOO_BIG, "")},
    {.label = "message over 128 KB: 413 before parsing",
     .op = UPDATE,
     .payload = "{'state':{'reported':{'k':'<X*131072>'}},'clientToken':'tok'}",
     .now = 200,
     .code = 413,
     .rejected = REJ(413, TOO_BIG, "")},

    /* ---- get ---- */
    {.label = "get: full document with delta",
     .stored = BASIC,
     .op = GET,
     .payload = "",
     .now = 200,
     .accepted = GOT("{'desired':{'color':'red','temp':20},'reported':{'color':'blue','temp':20},"
                     "'delta':{'color':'red'}}",
                     B_META, 3, "")},
    {.label = "get: no delta key when in sync, clientToken echoed",
     .stored = SYNC,
     .op = GET,
     .payload = "{'clientToken':'tok'}",
     .now = 200,
     .accepted = GOT("{'desired':{'on':true},'reported':{'on':true}}",
                     "{'desired':{'on':" M1 "},'reported':{'on':" M1 "}}", 7, TOK)},
    {.label = "get: a version in the payload is ignored",
     .stored = SYNC,
     .op = GET,
     .payload = "{'clientToken':'tok','version':99}",
     .now = 200,
     .accepted = GOT("{'desired':{'on':true},'reported':{'on':true}}",
                     "{'desired':{'on':" M1 "},'reported':{'on':" M1 "}}", 7, TOK)},
    {.label = "get: a cleared shadow has empty state and metadata",
     .stored = SNAP("{}", "{}", 4),
     .op = GET,
     .payload = "{}",
     .now = 200,
     .accepted = GOT("{}", "{}", 4, "")},
    {.label = "get: never created: 404 with the name",
     .op = GET,
     .payload = "",
     .now = 200,
     .code = 404,
     .rejected = NOT_FOUND},
    {.label = "get: never created, clientToken echoed in the 404",
     .op = GET,
     .payload = "{'clientToken':'tok'}",
     .now = 200,
     .code = 404,
     .rejected = REJ(404, "No shadow exists with name: `myThing`", TOK)},
    {.label = "get: deleted shadow is 404",
     .stored = "{'deleted':3}",
     .op = GET,
     .payload = "",
     .now = 200,
     .code = 404,
     .rejected = NOT_FOUND},
    {.label = "get: payload that is not JSON",
     .stored = BASIC,
     .op = GET,
     .payload = "please",
     .now = 200,
     .code = 400,
     .rejected = INVALID_JSON},
    {.label = "get: payload not UTF-8",
     .stored = BASIC,
     .op = GET,
     .payload = "{'clientToken':'\xc0\xaf'}",
     .now = 200,
     .code = 415,
     .rejected = REJ(415, BAD_UTF8, "")},
    {.label = "get: bad clientToken is refused before existence",
     .op = GET,
     .payload = "{'clientToken':['tok']}",
     .now = 200,
     .code = 400,
     .rejected = REJ(400, "Invalid clientToken", "")},
    {.label = "get: the delta of desired alone is all of desired",
     .stored = SNAP("{'desired':{'a':[1,2],'b':{'c':'d'}}}",
                    "{'desired':{'a':[" M1 "," M1 "],'b':{'c':" M1 "}}}", 2),
     .op = GET,
     .payload = "",
     .now = 200,
     .accepted = GOT("{'desired':{'a':[1,2],'b':{'c':'d'}},'delta':{'a':[1,2],'b':{'c':'d'}}}",
                     "{'desired':{'a':[" M1 "," M1 "],'b':{'c':" M1 "}}}", 2, "")},

    /* ---- delete ---- */
    {.label = "delete: accepted with the last version, version kept for re-creation",
     .stored = BASIC,
     .op = DELETE,
     .payload = "",
     .now = 200,
     .accepted = DEL(3, ""),
     .after = "{'deleted':3}"},
    {.label = "delete: clientToken echoed, version in payload ignored",
     .stored = SYNC,
     .op = DELETE,
     .payload = "{'clientToken':'tok','version':1}",
     .now = 200,
     .accepted = DEL(7, TOK),
     .after = "{'deleted':7}"},
    {.label = "delete: never created is 404",
     .op = DELETE,
     .payload = "{'clientToken':'tok'}",
     .now = 200,
     .code = 404,
     .rejected = REJ(404, "No shadow exists with name: `myThing`", TOK)},
    {.label = "delete: already deleted is 404",
     .stored = "{'deleted':3}",
     .op = DELETE,
     .payload = "",
     .now = 200,
     .code = 404,
     .rejected = NOT_FOUND},
    {.label = "delete: payload that is not JSON",
     .stored = BASIC,
     .op = DELETE,
     .payload = "{]",
     .now = 200,
     .code = 400,
     .rejected = INVALID_JSON},
};

#define NCASES (sizeof cases / sizeof cases[0])

/* ---- helpers ---- */

/* ' -> ", ` -> ', <X*N> -> N x's, <Q*N> -> N times \" (two serialized bytes each). */
static char *expand(const char *src)
{
    size_t cap = strlen(src) + 1;
    for (const char *p = src; (p = strchr(p, '<')) != NULL; p++) {
        char c;
        unsigned long n;
        if (sscanf(p, "<%c*%lu>", &c, &n) == 2) cap += 2 * n;
    }
    char *out = malloc(cap), *o = out;
    assert_non_null(out);
    for (const char *p = src; *p; p++) {
        char c;
        unsigned long n;
        int used = 0;
        if (*p == '<' && sscanf(p, "<%c*%lu>%n", &c, &n, &used) == 2 && used > 0) {
            for (unsigned long i = 0; i < n; i++) {
                if (c == 'Q') *o++ = '\\';
                *o++ = c == 'Q' ? '"' : 'x';
            }
            p += used - 1;
        } else {
            *o++ = *p == '\'' ? '"' : *p == '`' ? '\'' : *p;
        }
    }
    *o = '\0';
    return out;
}

static json_t *load(const char *text)
{
    char *s = expand(text);
    json_error_t err;
    json_t *j = json_loads(s, JSON_DECODE_ANY, &err);
    if (!j) fail_msg("bad test JSON (%s): %s", err.text, s);
    free(s);
    return j;
}

static void load_doc(const char *text, struct shadow_doc *d)
{
    memset(d, 0, sizeof *d);
    if (!text) return;
    json_t *j = load(text);
    json_t *deleted = json_object_get(j, "deleted");
    if (deleted) {
        d->version = json_integer_value(deleted);
    } else {
        d->state = json_incref(json_object_get(j, "state"));
        d->metadata = json_incref(json_object_get(j, "metadata"));
        d->version = json_integer_value(json_object_get(j, "version"));
        d->exists = true;
    }
    json_decref(j);
}

static void expect_json(const char *label, const char *what, const json_t *got, const char *want)
{
    if (!want) {
        if (got) {
            char *g = json_dumps(got, JSON_COMPACT);
            print_error("%s: unexpected %s: %.400s\n", label, what, g);
            free(g);
            fail();
        }
        return;
    }
    json_t *w = load(want);
    if (!got || !json_equal((json_t *)got, w)) {
        char *g = got ? json_dumps(got, JSON_COMPACT) : NULL;
        char *e = json_dumps(w, JSON_COMPACT);
        print_error("%s: %s\n  got:  %.600s\n  want: %.600s\n", label, what, g ? g : "(none)", e);
        free(g);
        free(e);
        json_decref(w);
        fail();
    }
    json_decref(w);
}

static void expect_doc(const char *label, const struct shadow_doc *got, const char *want)
{
    struct shadow_doc w;
    load_doc(want, &w);
    if (got->exists != w.exists || got->version != w.version) {
        print_error("%s: stored exists/version %d/%lld, want %d/%lld\n", label, got->exists,
                    (long long)got->version, w.exists, (long long)w.version);
        fail();
    }
    if (w.exists) {
        if (!json_equal(got->state, w.state) || !json_equal(got->metadata, w.metadata)) {
            char *s = json_dumps(got->state, JSON_COMPACT);
            char *m = json_dumps(got->metadata, JSON_COMPACT);
            print_error("%s: stored state %s metadata %s\n", label, s, m);
            free(s);
            free(m);
            fail();
        }
    } else {
        assert_null(got->state);
        assert_null(got->metadata);
    }
    shadow_doc_free(&w);
}

static int run(enum op op, const struct shadow_doc *stored, const char *payload, size_t len,
               int64_t now, struct shadow_doc *out, struct shadow_result *res)
{
    switch (op) {
    case UPDATE:
        return shadow_update(stored, payload, len, now, out, res);
    case GET:
        memset(out, 0, sizeof *out);
        return shadow_get(stored, "myThing", payload, len, now, res);
    case DELETE:
        return shadow_delete(stored, "myThing", payload, len, now, out, res);
    }
    return -1;
}

/* ---- the table ---- */

static void test_case(void **state)
{
    const struct tcase *c = *state;
    struct shadow_doc stored, out;
    struct shadow_result res;
    load_doc(c->stored, &stored);
    json_t *before = stored.state ? json_deep_copy(stored.state) : NULL;
    char *payload = expand(c->payload);

    assert_int_equal(run(c->op, &stored, payload, strlen(payload), c->now, &out, &res), 0);
    if (res.code != c->code) print_error("%s: code %d want %d\n", c->label, res.code, c->code);
    assert_int_equal(res.code, c->code);
    expect_json(c->label, "accepted", res.accepted, c->accepted);
    expect_json(c->label, "rejected", res.rejected, c->rejected);
    expect_json(c->label, "delta", res.delta, c->delta);
    /* documents follows every accepted update; the table spells it out only where it matters */
    if (c->documents || c->op != UPDATE || c->code)
        expect_json(c->label, "documents", res.documents, c->documents);
    else
        assert_non_null(res.documents);
    if (c->code) {
        assert_string_equal(res.message,
                            json_string_value(json_object_get(res.rejected, "message")));
        assert_false(out.exists);
        assert_null(out.state);
    } else if (c->after) {
        expect_doc(c->label, &out, c->after);
    }
    if (c->op == UPDATE && c->code == 0) assert_int_equal(out.version, stored.version + 1);
    /* the stored document is never touched */
    if (before) assert_true(json_equal(before, stored.state));

    json_decref(before);
    free(payload);
    shadow_result_free(&res);
    shadow_doc_free(&out);
    shadow_doc_free(&stored);
}

/* ---- whole life cycles ---- */

static void step(struct shadow_doc *doc, enum op op, const char *payload, int64_t now,
                 int want_code, struct shadow_result *res)
{
    struct shadow_doc out;
    char *p = expand(payload);
    assert_int_equal(run(op, doc, p, strlen(p), now, &out, res), 0);
    free(p);
    assert_int_equal(res->code, want_code);
    if (want_code == 0 && op != GET) {
        shadow_doc_free(doc);
        *doc = out;
    } else {
        shadow_doc_free(&out);
    }
}

static void test_life_cycle(void **state)
{
    (void)state;
    struct shadow_doc doc = {0};
    struct shadow_result res;

    step(&doc, GET, "", 10, 404, &res);
    shadow_result_free(&res);
    step(&doc, UPDATE, "{'state':{'desired':{'a':1}}}", 10, 0, &res);
    shadow_result_free(&res);
    step(&doc, UPDATE, "{'state':{'reported':{'a':1}},'version':1}", 20, 0, &res);
    assert_null(res.delta);
    shadow_result_free(&res);
    step(&doc, GET, "{'clientToken':'g'}", 30, 0, &res);
    expect_json("cycle", "get", res.accepted,
                "{'state':{'desired':{'a':1},'reported':{'a':1}},'metadata':{'desired':{'a':{"
                "'timestamp':10}},'reported':{'a':{'timestamp':20}}},'version':2,'timestamp':30,"
                "'clientToken':'g'}");
    shadow_result_free(&res);
    step(&doc, DELETE, "", 40, 0, &res);
    expect_json("cycle", "delete", res.accepted, "{'version':2,'timestamp':40}");
    shadow_result_free(&res);
    step(&doc, GET, "", 50, 404, &res);
    shadow_result_free(&res);
    step(&doc, DELETE, "", 50, 404, &res);
    shadow_result_free(&res);
    step(&doc, UPDATE, "{'state':{'reported':{'b':2}}}", 60, 0, &res);
    expect_json("cycle", "re-created documents", res.documents,
                "{'previous':null,'current':{'state':{'reported':{'b':2}},'metadata':{'reported':{"
                "'b':{'timestamp':60}}},'version':3},'timestamp':60}");
    shadow_result_free(&res);
    assert_int_equal(doc.version, 3);
    shadow_doc_free(&doc);
}

/* A NULL stored document is a shadow never created. */
static void test_null_stored_and_arguments(void **state)
{
    (void)state;
    struct shadow_doc out;
    struct shadow_result res;
    assert_int_equal(shadow_update(NULL, "{\"state\":{}}", 12, 5, &out, &res), 0);
    assert_int_equal(res.code, 0);
    assert_int_equal(out.version, 1);
    shadow_result_free(&res);
    shadow_doc_free(&out);
    assert_int_equal(shadow_get(NULL, "n", NULL, 0, 5, &res), 0);
    assert_int_equal(res.code, 404);
    assert_string_equal(res.message, "No shadow exists with name: 'n'");
    shadow_result_free(&res);
    assert_int_equal(shadow_update(NULL, "{}", 2, 5, NULL, &res), UMBRA_EINVAL);
    assert_int_equal(shadow_get(NULL, "n", NULL, 0, 5, NULL), UMBRA_EINVAL);
}

static void test_delta_helper_and_size(void **state)
{
    (void)state;
    struct shadow_doc d;
    load_doc(BASIC, &d);
    json_t *meta;
    json_t *delta = shadow_delta(&d, &meta);
    expect_json("helper", "delta", delta, "{'color':'red'}");
    expect_json("helper", "delta metadata", meta, "{'color':" M1 "}");
    json_decref(delta);
    json_decref(meta);
    shadow_doc_free(&d);

    /* numbers count in their shortest form: {"a":0.1,"f":100.0} is 19 bytes (not jansson's
     * 0.10000000000000001), {"b":1e21,"c":-5,"g":1.5e-9} 28 */
    json_t *s = load("{'desired':{'a':0.1,'f':100.0},'reported':{'b':1e21,'c':-5,'g':1.5e-9}}");
    assert_int_equal(shadow_state_size(s), 19 + 28);
    json_decref(s);
}

int main(void)
{
    struct CMUnitTest tests[NCASES + 3];
    for (size_t i = 0; i < NCASES; i++)
        tests[i] = (struct CMUnitTest){cases[i].label, test_case, NULL, NULL, (void *)&cases[i]};
    tests[NCASES] = (struct CMUnitTest)cmocka_unit_test(test_life_cycle);
    tests[NCASES + 1] = (struct CMUnitTest)cmocka_unit_test(test_null_stored_and_arguments);
    tests[NCASES + 2] = (struct CMUnitTest)cmocka_unit_test(test_delta_helper_and_size);
    return _cmocka_run_group_tests("shadow", tests, NCASES + 3, NULL, NULL);
}
