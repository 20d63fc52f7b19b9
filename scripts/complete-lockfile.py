# Completes package-lock.json with rollup platform packages that the npm mirror
# reachable here does not list for the locked rollup version. Without them
# `npm ci` refuses the lockfile ("Missing: @rollup/rollup-... from lock file").
# Run after any `npm install` that changes the lockfile:
#   python3 scripts/complete-lockfile.py package-lock.json
import json, sys
p = sys.argv[1] if len(sys.argv) > 1 else 'package-lock.json'
d = json.load(open(p))
pk = d['packages']
roll = pk['node_modules/rollup']
ver = roll['version']
added = []
for n in roll.get('optionalDependencies', {}):
    if not n.startswith('@rollup/rollup-') or 'node_modules/' + n in pk:
        continue
    os_, cpu, *abi = n.split('/rollup-')[1].split('-')
    e = {'version': ver, 'cpu': [cpu], 'dev': roll.get('dev', False)}
    if os_ == 'linux':
        e['libc'] = ['musl' if abi and 'musl' in abi[0] else 'glibc']
    e.update({'license': 'MIT', 'optional': True, 'os': [os_]})
    if not e['dev']:
        del e['dev']
    pk['node_modules/' + n] = e
    added.append(n)
d['packages'] = dict(sorted(pk.items(), key=lambda kv: (kv[0] != '', kv[0])))
with open(p, 'w') as f:
    json.dump(d, f, indent=2)
    f.write('\n')
print(f'added {len(added)} lock entries for rollup {ver} platform packages')
