// Loads a LuCI JS view the way LuCI's loader does (the file body becomes a
// function whose parameters are its 'require'd classes) with recording
// stand-ins for form/rpc/poll/dom/E, and prints what the view declared.
//   node luci_harness.js overlays FILE          -> JSON of the form's options
//   node luci_harness.js status FILE DATA.json  -> text of the rendered page
'use strict';
const fs = require('fs');

String.prototype.format = function() {
	let args = Array.from(arguments);
	return this.replace(/%(0?\d*)([sd])/g, (m, pad, t) => {
		let v = args.shift();
		v = t === 'd' ? String(Math.floor(v)) : String(v);
		if (pad && pad[0] === '0') v = v.padStart(parseInt(pad, 10), '0');
		return v;
	});
};

function load(file, deps) {
	const src = fs.readFileSync(file, 'utf8');
	const req = [...src.matchAll(/^'require ([\w.]+)';$/mg)].map(m => m[1]);
	const names = req.map(r => r.split('.').pop());
	const fn = new Function(...names, '_', 'E', 'L', src);
	return fn(...names.map(n => {
		if (!(n in deps)) throw new Error(file + ': unexpected require ' + n);
		return deps[n];
	}), s => s, deps.E, {});
}

const view = { extend: o => o };
const mode = process.argv[2], file = process.argv[3];

if (mode === 'overlays') {
	const options = [];
	class Option {
		constructor(type, tab, name, title) {
			Object.assign(this, { type, tab, name, title, values: [], deps: [] });
			options.push(this);
		}
		value(k) { this.values.push(k); }
		depends(k, v) { this.deps.push([k, v]); }
	}
	const sections = [];
	const form = {
		Map: function(config, title) {
			this.config = config;
			this.section = (cls, type) => {
				const s = { cls, type, tabs: [],
					tab(n) { this.tabs.push(n); },
					taboption(tab, t, name, title) { return new Option(t, tab, name, title); },
					option(t, name, title) { return new Option(t, null, name, title); } };
				sections.push(s);
				return s;
			};
			this.render = () => ({ map: this.config });
		},
		GridSection: 'GridSection', Flag: 'Flag', Value: 'Value', ListValue: 'ListValue',
		DynamicList: 'DynamicList'
	};
	const v = load(file, { view, form, uci: { load: () => null } });
	const rendered = v.render();
	console.log(JSON.stringify({
		map: rendered.map,
		sections: sections.map(s => ({ cls: s.cls, type: s.type, tabs: s.tabs,
			anonymous: s.anonymous, addremove: s.addremove })),
		options: options.map(o => ({ name: o.name, type: o.type, tab: o.tab,
			datatype: o.datatype || null, values: o.values, password: !!o.password }))
	}));
} else if (mode === 'status') {
	const data = JSON.parse(fs.readFileSync(process.argv[4], 'utf8'));
	const E = (tag, attrs, children) => ({ tag, attrs, children: children || [] });
	const text = n => n == null ? '' : typeof n === 'string' ? n :
		Array.isArray(n) ? n.map(text).join('') :
		(['tr', 'p', 'h2', 'h3', 'h4'].includes(n.tag) ? '\n' : n.tag === 'td' || n.tag === 'th' ? '|' : '') +
		text(n.children);
	const calls = [];
	const rpc = { declare: d => { calls.push(d); return () => null; } };
	const polls = [];
	const v = load(file, { view, rpc, E, poll: { add: (f, i) => polls.push(i) }, dom: {} });
	const page = v.render([data.overlays, data.services]);
	console.log(JSON.stringify({ declares: calls, polls }));
	console.log(text(page).replace(/\n+/g, '\n').trim());
} else {
	throw new Error('mode: overlays | status');
}
