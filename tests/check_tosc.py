#!/usr/bin/env python3
"""Checks a TouchOSC (Mk2) layout against the structure of the .tosc files TouchOSC saves and
against the OSC addresses `advinst live` implements. Standard library only.

    tests/check_tosc.py LAYOUT.tosc LIST_OSC.txt     (LIST_OSC.txt: `advinst live --list-osc`)
    tests/check_tosc.py --self-test LAYOUT.tosc LIST_OSC.txt   the checks must find each of a set
                                                              of defects planted in a good layout

A .tosc file is one zlib stream of UTF-8 XML: <lexml version=N> holding exactly one root GROUP
node whose frame is the canvas. Every <node> has a type and, in this order, <properties>, <values>,
optionally <messages> and <children>. A property is <property type=T><key>K</key><value>V</value>
with T one of b, i, f, s, c (<r><g><b><a> in 0..1), r (<x><y><w><h> integers). A value is
<value><key>K</key><locked/><lockedDefaultCurrent/><default/><defaultPull/></value>. The checks:

  - structure: as above, unique node names, frames inside their parent;
  - labels: their caption is the non-empty default of a `text` value (TouchOSC ignores a
    `text` property: it would be a custom property), an explicit `textColor`, and no background
    unless the layout draws one on purpose (background 1 with a visible colour is allowed only
    where it hides no control);
  - OSC: every address a control sends or the script names is implemented, in the right direction
    (sent: an `in` address; received by the script: an `out` one);
  - nothing hidden: a control that takes touches (BUTTON, FADER, ... with interactive 1) is not
    covered by a later sibling (drawn on top) that takes touches or paints a background;
  - the names the script looks up exist.
Exits 1 with one line per problem.
"""
import re
import sys
import xml.etree.ElementTree as ET
import zlib

PROPERTY_TYPES = {"b", "i", "f", "s", "c", "r"}
NODE_TYPES = {"GROUP", "PAGER", "BUTTON", "FADER", "LABEL", "TEXT", "XY", "RADIO", "RADAR", "RADIAL", "ENCODER",
              "GRID", "BOX", "ELLIPSE", "TIME"}
TOUCH_TYPES = {"BUTTON", "FADER", "XY", "RADIO", "RADAR", "RADIAL", "ENCODER", "GRID", "TEXT"}
VALUE_FIELDS = ["key", "locked", "lockedDefaultCurrent", "default", "defaultPull"]

problems = []


def problem(msg):
    problems.append(msg)


def props_of(node, where):
    out = {}
    section = node.find("properties")
    if section is None:
        problem("%s: no <properties>" % where)
        return out
    for p in section.findall("property"):
        kind, key, val = p.get("type"), p.findtext("key"), p.find("value")
        if kind not in PROPERTY_TYPES or not key or val is None:
            problem("%s: malformed property %r" % (where, key))
            continue
        if kind == "r":
            try:
                out[key] = tuple(int(val.findtext(c)) for c in "xywh")
            except (TypeError, ValueError):
                problem("%s: frame %r is not four integers" % (where, key))
        elif kind == "c":
            try:
                rgba = tuple(float(val.findtext(c)) for c in "rgba")
                if not all(0 <= v <= 1 for v in rgba):
                    raise ValueError
                out[key] = rgba
            except (TypeError, ValueError):
                problem("%s: colour %r is not r, g, b, a in 0..1" % (where, key))
        elif kind in ("b", "i"):
            try:
                out[key] = int(val.text)
            except (TypeError, ValueError):
                problem("%s: %r is not an integer" % (where, key))
        else:
            out[key] = val.text or ""
    return out


def values_of(node, where):
    out = {}
    section = node.find("values")
    if section is None:
        problem("%s: no <values>" % where)
        return out
    for v in section.findall("value"):
        if [c.tag for c in v] != VALUE_FIELDS:
            problem("%s: value %r is not <key><locked><lockedDefaultCurrent><default><defaultPull>"
                    % (where, v.findtext("key")))
            continue
        out[v.findtext("key")] = v.findtext("default") or ""
    return out


def overlap(a, b):
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def check_node(node, path, parent_frame, names, sent):
    kind = node.get("type")
    where = "%s (%s)" % (path, kind)
    if kind not in NODE_TYPES:
        problem("%s: unknown node type" % where)
    sections = [c.tag for c in node]
    order = [t for t in ("properties", "values", "messages", "children") if t in sections]
    if sections != order or "properties" not in sections or "values" not in sections:
        problem("%s: sections %s (expected properties, values[, messages][, children])" % (where, sections))
    props, values = props_of(node, where), values_of(node, where)
    name, frame = props.get("name"), props.get("frame")
    if not name:
        problem("%s: no name" % where)
    elif name in names:
        problem("%s: name used twice (the script's findByName would be ambiguous)" % where)
    names.add(name)
    if not frame:
        problem("%s: no frame" % where)
        frame = (0, 0, 0, 0)
    if parent_frame and (frame[0] < 0 or frame[1] < 0 or frame[0] + frame[2] > parent_frame[2] or
                         frame[1] + frame[3] > parent_frame[3]):
        problem("%s: frame %s outside its parent %s" % (where, frame, parent_frame))
    if "touch" not in values:
        problem("%s: no touch value" % where)
    if kind == "LABEL":
        if "text" in props:
            problem("%s: caption in a text property (TouchOSC ignores it: custom property)" % where)
        if not values.get("text", "").strip():
            problem("%s: no non-empty text value" % where)
        if "textColor" not in props:
            problem("%s: no explicit textColor" % where)
        if props.get("background", 1) and props.get("color", (1, 1, 1, 1))[3] > 0:
            props["_opaque"] = 1
        if props.get("interactive", 1):
            problem("%s: a label should not take touches (interactive 0)" % where)
    elif kind in TOUCH_TYPES and "x" not in values:
        problem("%s: no x value" % where)
    elif kind not in ("GROUP", "PAGER") and props.get("background", 1) and props.get("color", (1, 1, 1, 1))[3] > 0:
        props["_opaque"] = 1
    if kind in TOUCH_TYPES and props.get("background", 1) and props.get("color", (1, 1, 1, 1))[3] > 0:
        props["_opaque"] = 1
    messages = node.find("messages")
    for m in (messages.findall("osc") if messages is not None else []):
        address = "".join(p.findtext("value") or "" for p in m.findall("path/partial"))
        if m.findtext("enabled") == "1" and m.findtext("send") == "1":
            sent.add(address)
    children = node.find("children")
    kids = children.findall("node") if children is not None else []
    info = []
    for k in kids:
        kname = next((p.findtext("value") for p in k.findall("properties/property") if p.findtext("key") == "name"), "?")
        info.append(check_node(k, "%s/%s" % (path, kname), frame, names, sent))
    # a touchable control must not be under a later sibling that takes touches or paints
    for i, (kname, kkind, kframe, kprops) in enumerate(info):
        if kkind not in TOUCH_TYPES or not kprops.get("interactive", 1):
            continue
        for oname, okind, oframe, oprops in info[i + 1:]:
            on_top = (okind in TOUCH_TYPES and oprops.get("interactive", 1)) or oprops.get("_opaque")
            if on_top and overlap(kframe, oframe):
                problem("%s is hidden under %s (drawn later, %s)" % (kname, oname,
                        "takes touches" if okind in TOUCH_TYPES and oprops.get("interactive", 1) else "opaque"))
    return name, kind, frame, props


def check(text, implemented):
    """The problems of a layout's XML text (a list; empty if none) and its counts."""
    del problems[:]
    root = ET.fromstring(text)
    if root.tag != "lexml" or not root.get("version"):
        problem("root element is %s, not <lexml version=...>" % root.tag)
    top = root.findall("node")
    if len(top) != 1 or top[0].get("type") != "GROUP":
        problem("the document must hold exactly one root GROUP node")
        return list(problems), (0, 0, 0)
    names, sent = set(), set()
    _, _, canvas, props = check_node(top[0], "root", None, names, sent)
    if canvas[:2] != (0, 0):
        problem("the root frame (the canvas) must start at 0, 0")
    script = props.get("script", "")
    received = set(re.findall(r"path == '(/advinst/[A-Za-z0-9_/]+)'", script))
    script_sent = set(re.findall(r"sendOSC\('(/advinst/[A-Za-z0-9_/]+)'", script))
    for a in sorted(sent | script_sent):
        if implemented.get(a) != "in":
            problem("sends %s, which advinst live does not take (not an 'in' address of --list-osc)" % a)
    for a in sorted(received):
        if implemented.get(a) != "out":
            problem("the script handles %s, which advinst live does not send" % a)
    for a in set(re.findall(r"/advinst/[A-Za-z0-9_/]+", text)) - sent - script_sent - received:
        problem("names %s but neither sends nor handles it" % a)
    # names the script looks up: literal ones and the generated families
    looked_up = set(re.findall(r"set_(?:text|x)\('([A-Za-z0-9_]+)'", script))
    for stream in ("in", "out"):
        looked_up.add(stream + "_label")
        looked_up.update("%s_p%d" % (stream, k) for k in range(1, 13))
    for n in sorted(looked_up - names):
        problem("the script updates %s, which is not in the layout" % n)
    if not sent:
        problem("no control sends anything")
    return list(problems), (len(names), len(sent | script_sent), len(received))


# Defects planted by --self-test: (what, old, new); each must make check() complain.
DEFECTS = [
    ("caption as a text property", "<properties><property type='s'><key><![CDATA[name]]></key><value><![CDATA[target_label_gong]]>",
     "<properties><property type='s'><key><![CDATA[text]]></key><value><![CDATA[gong]]></value></property>"
     "<property type='s'><key><![CDATA[name]]></key><value><![CDATA[target_label_gong]]>"),
    ("empty caption", "<default><![CDATA[gong]]></default>", "<default><![CDATA[]]></default>"),
    ("opaque label over a button",
     re.compile(r"(CDATA\[target_label_gong\]\]>.*?<key><!\[CDATA\[color\]\]></key><value>)<r>0</r><g>0</g><b>0</b><a>0</a>"
                r"(</value></property><property type='b'><key><!\[CDATA\[background\]\]></key><value>)0"),
     r"\g<1><r>1</r><g>1</g><b>1</b><a>1</a>\g<2>1"),
    ("no text colour", "<property type='c'><key><![CDATA[textColor]]></key>", "<property type='c'><key><![CDATA[tint]]></key>"),
    ("an unimplemented address", "<value><![CDATA[/advinst/eps]]>", "<value><![CDATA[/advinst/epsilon]]>"),
    ("an output address sent", "<value><![CDATA[/advinst/step]]>", "<value><![CDATA[/advinst/state]]>"),
    ("a touchable label", "<property type='b'><key><![CDATA[interactive]]></key><value>0</value></property>"
     "<property type='c'><key><![CDATA[textColor]]>",
     "<property type='b'><key><![CDATA[interactive]]></key><value>1</value></property>"
     "<property type='c'><key><![CDATA[textColor]]>"),
    ("a value without its fields", "<value><key><![CDATA[x]]></key><locked>0</locked>", "<value><key><![CDATA[x]]></key>"),
]


def main():
    args = sys.argv[1:]
    self_test = args[:1] == ["--self-test"]
    if self_test:
        args = args[1:]
    if len(args) != 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    with open(args[0], "rb") as f:
        text = zlib.decompress(f.read()).decode("utf-8")
    implemented = {}
    with open(args[1]) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2:
                implemented[parts[1]] = parts[0]
    found, counts = check(text, implemented)
    if not self_test:
        return report(found, counts)
    if found:
        return report(found, counts)
    missed = 0
    for what, old, new in DEFECTS:
        planted = old.sub(new, text, count=1) if hasattr(old, "sub") else text.replace(old, new, 1)
        if planted == text:
            print("check_tosc: self-test: cannot plant '%s' (the layout changed?)" % what, file=sys.stderr)
            missed += 1
            continue
        found, _ = check(planted, implemented)
        if not found:
            print("check_tosc: self-test: '%s' was not found" % what, file=sys.stderr)
            missed += 1
    if missed:
        return 1
    print("check_tosc: self-test: all %d planted defects found" % len(DEFECTS))
    return 0


def report(found, counts):
    for p in found:
        print("check_tosc: " + p, file=sys.stderr)
    if found:
        return 1
    print("check_tosc: %d nodes, %d addresses sent, %d handled: structure, labels, addresses and overlaps ok" % counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
