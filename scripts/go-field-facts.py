#!/usr/bin/env python3
# Reads the Go struct definitions of k8s.io/api out of a kubectl binary's type data and prints what the protobuf
# codec needs beyond the schema files (api/protobuf_go_fields.cc); with --check, compares proto=/protoEmbed=.
#
# Why a binary: the wire format depends on whether a Go field is a pointer (a nil pointer is not written, a non-pointer
# is always written, so a zero value on the wire means "set" only for pointers), and kubectl carries every struct of
# k8s.io/api with its field tags and field types in its reflection data. Only static, non-PIE amd64 Go >= 1.21
# binaries are understood (the kubectl.1.3x builds on the development machines).
#
# Usage: scripts/go-field-facts.py KUBECTL [--check] > api/protobuf_go_fields.cc
import glob
import mmap
import os
import re
import struct
import sys

PACKAGES = {
    'k8s.io/api/core/v1': 'core', 'k8s.io/api/apps/v1': 'apps', 'k8s.io/api/autoscaling/v1': 'autoscaling',
    'k8s.io/api/coordination/v1': 'coordination', 'k8s.io/apimachinery/pkg/apis/meta/v1': 'meta',
}
SCHEMA_PACKAGE = {'apps.schema': 'apps', 'core.schema': 'core', 'core_pod.schema': 'core', 'meta.schema': 'meta',
                  'autoscaling.schema': 'autoscaling', 'coordination.schema': 'coordination'}
KIND_STRUCT, KIND_PTR = 25, 22  # reflect.Kind values


class Binary:
    def __init__(self, path):
        f = open(path, 'rb')
        self.m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        shoff = struct.unpack_from('<Q', self.m, 0x28)[0]
        shentsize, shnum, shstrndx = struct.unpack_from('<HHH', self.m, 0x3a)
        secs = [struct.unpack_from('<IIQQQQ', self.m, shoff + i * shentsize) for i in range(shnum)]
        names = secs[shstrndx][4]
        for name, _, _, addr, off, size in secs:
            if self.cstr(names + name) == '.rodata':
                self.addr, self.off, self.size = addr, off, size

    def cstr(self, o):
        return self.m[o:self.m.find(b'\0', o)].decode()

    def has(self, a):
        return self.addr <= a < self.addr + self.size

    def read(self, a, fmt):
        return struct.unpack_from(fmt, self.m, self.off + a - self.addr)

    def varint(self, a):
        v = shift = 0
        while True:
            b = self.m[self.off + a - self.addr]
            a += 1
            v |= (b & 0x7f) << shift
            shift += 7
            if b < 0x80:
                return v, a

    def name(self, a):  # abi.Name: flags, varint length, bytes, [varint length, tag]
        flags = self.m[self.off + a - self.addr]
        n, p = self.varint(a + 1)
        text = self.m[self.off + p - self.addr:self.off + p - self.addr + n].decode('utf-8', 'replace')
        tag = ''
        if flags & 2:
            t, q = self.varint(p + n)
            tag = self.m[self.off + q - self.addr:self.off + q - self.addr + t].decode('utf-8', 'replace')
        return text, tag

    def type_name(self, t):  # abi.Type: size, ptrdata, hash, tflag, align, fieldAlign, kind, equal, gcdata, str
        tflag, kind = self.read(t + 20, '<B')[0], self.read(t + 23, '<B')[0] & 0x1f
        text = self.name(self.addr + self.read(t + 40, '<i')[0])[0]
        return (text[1:] if tflag & 2 else text), kind, tflag

    def structs(self):
        """{(package, name): [(field name, tag, type name, kind)]} for the named structs of PACKAGES."""
        out = {}
        for t in range(self.addr, self.addr + self.size - 88, 8):
            if self.m[self.off + t - self.addr + 23] & 0x1f != KIND_STRUCT:
                continue
            try:
                fields, n, cap = self.read(t + 56, '<QQQ')
                if not (0 < n == cap < 400 and self.has(fields)):
                    continue
                name, _, tflag = self.type_name(t)
                if not tflag & 1 or not re.match(r'^v1\.[A-Z]\w*$', name):
                    continue
                pkg = PACKAGES.get(self.name(self.addr + self.read(t + 80, '<i')[0])[0])
                if not pkg:
                    continue
                rows = []
                for i in range(n):
                    fname, ftype, _ = self.read(fields + 24 * i, '<QQQ')
                    rows.append(self.name(fname) + self.type_name(ftype)[:2])
                out[(pkg, name[3:])] = rows
            except (struct.error, UnicodeDecodeError, IndexError, ValueError):
                continue
        return out


def flatten(structs, pkg, rows, embed=(), on_wire=True):
    """The JSON fields of a struct with inline members expanded: name -> (proto, embed path, Go type, kind).
    An inline member without a protobuf tag (TypeMeta) is not written on the wire: its fields get number 0."""
    out = {}
    for _, tag, gotype, kind in rows:
        js = re.search(r'json:"([^"]*)"', tag)
        pb = re.search(r'protobuf:"[a-z0-9]+,(\d+),', tag)
        if not js:
            continue
        name, *opts = js.group(1).split(',')
        number = int(pb.group(1)) if pb else 0
        if not name and 'inline' in opts:
            inner = gotype.lstrip('*').split('.')[-1]
            sub = structs.get((pkg, inner)) or next((v for (p, n), v in structs.items() if n == inner), None)
            if sub is not None:
                out.update(flatten(structs, pkg, sub, embed + ((number,) if number else ()), on_wire and number > 0))
            continue
        out[name] = (number if on_wire else 0, embed, gotype, kind)
    return out


def main():
    binary, check = sys.argv[1], '--check' in sys.argv[2:]
    structs = Binary(binary).structs()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'api', 'schema')
    pointers, micro, problems = {}, [], []
    for path in sorted(glob.glob(os.path.join(root, '*.schema'))):
        pkg, current = SCHEMA_PACKAGE[os.path.basename(path)], None
        go = {}
        for line in open(path):
            if line.startswith('type '):
                current = line.split()[1]
                rows = structs.get((pkg, current)) or next((v for (p, n), v in structs.items() if n == current), None)
                go = flatten(structs, pkg, rows) if rows else {}
                if rows is None:
                    problems.append(f'{current}: no Go struct')
                continue
            if not line.startswith('  ') or current is None:
                continue
            words = line.split(' --')[0].split()
            name, schema_type, attrs = words[0], words[1], words[2:]
            if name not in go:
                if name not in ('apiVersion', 'kind'):
                    problems.append(f'{current}.{name}: no Go field')
                continue
            number, embed, gotype, kind = go[name]
            if kind == KIND_PTR and not schema_type.startswith(('[]', 'map[')):
                pointers.setdefault(current, []).append(name)
            if gotype.lstrip('*') == 'v1.MicroTime':
                micro.append((current, name))
            want = [f'proto={number}'] if number else []
            want += [f'protoEmbed={".".join(map(str, embed))}'] if embed else []
            have = [a for a in attrs if a.startswith(('proto=', 'protoEmbed='))]
            if check and have != want:
                problems.append(f'{current}.{name}: schema has {" ".join(have) or "nothing"}, Go says {" ".join(want)}')
    if check:
        print('\n'.join(problems) or 'proto numbers match')
        sys.exit(1 if problems else 0)
    print('// Facts about the Go structs of k8s.io/api that the schema files lack and the protobuf codec needs.')
    print(f'// Generated by scripts/go-field-facts.py from {os.path.basename(binary)}; regenerate with the schema.')
    print('#include <set>\n#include <string_view>\n#include <utility>\n\n#include "api/protobuf.h"\n')
    print('namespace kctl::api {\n\nnamespace {\n')
    print('// The fields whose Go type is a pointer (*int32, *bool, *string, *Struct, *metav1.Time, ...), per type.')
    print('constexpr std::pair<std::string_view, std::string_view> kGoPointerFields[] = {')
    for t in sorted(pointers):
        # Long lists are split into adjacent literals so that lines stay within 120 columns (as clang-format would).
        words = " ".join(pointers[t])
        if len(f'    {{"{t}", "{words}"}},') <= 120:
            print(f'    {{"{t}", "{words}"}},')
            continue
        lines, line = [f'    {{"{t}",'], '     "'
        for i, name in enumerate(pointers[t]):
            word = name + (' ' if i + 1 < len(pointers[t]) else '')
            if len(line) + len(word) > 117:
                lines.append(line + '"')
                line = '     "'
            line += word
        print('\n'.join(lines + [line + '"},']))
    print('};\n')
    print('// The time fields that are metav1.MicroTime rather than metav1.Time (microseconds in JSON).')
    print('constexpr std::pair<std::string_view, std::string_view> kMicroTimeFields[] = {')
    for t, f in micro:
        print(f'    {{"{t}", "{f}"}},')
    print('};\n')
    print('''// The views point into the tables above, which live as long as the program.
using FieldSet = std::set<std::pair<std::string_view, std::string_view>>;

template <size_t N>
FieldSet field_set(const std::pair<std::string_view, std::string_view> (&rows)[N]) {
  FieldSet set;
  for (const auto& [type, fields] : rows) {
    size_t start = 0;
    while (start < fields.size()) {
      size_t end = fields.find(' ', start);
      if (end == std::string_view::npos) end = fields.size();
      set.emplace(type, fields.substr(start, end - start));
      start = end + 1;
    }
  }
  return set;
}

}  // namespace

bool is_go_pointer_field(std::string_view type, std::string_view field) {
  static const FieldSet set = field_set(kGoPointerFields);
  return set.count({type, field}) > 0;
}

bool is_micro_time_field(std::string_view type, std::string_view field) {
  static const FieldSet set = field_set(kMicroTimeFields);
  return set.count({type, field}) > 0;
}

}  // namespace kctl::api''')


if __name__ == '__main__':
    main()
