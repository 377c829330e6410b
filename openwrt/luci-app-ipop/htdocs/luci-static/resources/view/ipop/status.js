'use strict';
'require view';
'require rpc';
'require poll';
'require dom';

// Live status of every overlay in /etc/config/ipop: what `ipop status --json`
// reports over each node's control socket (identity, TAP, uptime, peers and
// their links), fetched through the rpcd plugin luci.ipop, and whether procd
// runs the instance. Unknown fields are shown as they come, so the page
// keeps working when ipop adds fields.

var callStatus = rpc.declare({
	object: 'luci.ipop',
	method: 'status',
	expect: { overlays: [] }
});

var callServiceList = rpc.declare({
	object: 'service',
	method: 'list',
	params: [ 'name' ],
	expect: { ipop: {} }
});

function fmtUptime(secs) {
	if (typeof secs !== 'number')
		return '-';
	var d = Math.floor(secs / 86400), h = Math.floor(secs / 3600) % 24,
	    m = Math.floor(secs / 60) % 60, s = Math.floor(secs) % 60;
	return (d ? d + 'd ' : '') + '%02d:%02d:%02d'.format(h, m, s);
}

function fmtValue(v) {
	if (v == null)
		return '-';
	if (Array.isArray(v))
		return v.map(fmtValue).join(', ');
	if (typeof v === 'object')
		return JSON.stringify(v);
	return String(v);
}

// Identity and device facts: known keys first, the rest after.
var knownKeys = [ 'uid', 'ip4', 'ip6', 'public_key', 'tap', 'mtu', 'switchmode', 'listen_port',
	'uptime_s', 'signalling' ];

// Drop counters: only the non-zero ones.
function fmtDrops(d) {
	var nz = Object.keys(d || {}).filter(function(k) { return d[k]; });
	return nz.length ? nz.map(function(k) { return k + ' ' + d[k]; }).join(', ') : _('none');
}

function fmtField(k, v) {
	if (k === 'uptime_s')
		return fmtUptime(v);
	if (k === 'drops')
		return fmtDrops(v);
	if (k === 'switchmode')
		return v ? _('switched (L2)') : _('routed (L3)');
	return fmtValue(v);
}

function infoTable(st) {
	var rows = [];
	var keys = knownKeys.filter(function(k) { return k in st; })
		.concat(Object.keys(st).filter(function(k) {
			return knownKeys.indexOf(k) < 0 && k !== 'peers' && k !== 'links' && k !== 'error';
		}));
	keys.forEach(function(k) {
		rows.push(E('tr', { 'class': 'tr' }, [
			E('td', { 'class': 'td left', 'width': '33%' }, [ k ]),
			E('td', { 'class': 'td left' }, [ fmtField(k, st[k]) ])
		]));
	});
	return E('table', { 'class': 'table' }, rows);
}

// A peer's path MTU, marked while its probing still runs (the flag is
// shown here, not as a column of its own).
function fmtCell(it, c) {
	if (c === 'path_mtu' && it.path_mtu != null && it.path_mtu_searching)
		return _('%s (probing)').format(it.path_mtu);
	return fmtValue(it[c]);
}

// A table of objects (peers or links) with the union of their keys as columns.
function listTable(items, emptyText) {
	if (!Array.isArray(items) || items.length === 0)
		return E('p', { 'class': 'cbi-section-descr' }, [ emptyText ]);
	var cols = [];
	items.forEach(function(it) {
		Object.keys(it || {}).forEach(function(k) {
			if (cols.indexOf(k) < 0 && k !== 'path_mtu_searching') cols.push(k);
		});
	});
	var head = E('tr', { 'class': 'tr table-titles' },
		cols.map(function(c) { return E('th', { 'class': 'th' }, [ c ]); }));
	var body = items.map(function(it) {
		return E('tr', { 'class': 'tr' }, cols.map(function(c) {
			return E('td', { 'class': 'td' }, [ fmtCell(it || {}, c) ]);
		}));
	});
	return E('table', { 'class': 'table' }, [ head ].concat(body));
}

function overlayBox(ov, instances) {
	var st = ov.status || {};
	var inst = instances[ov.name];
	var state;
	if (!ov.enabled)
		state = _('disabled');
	else if (inst && inst.running)
		state = _('running');
	else
		state = _('not running');

	var children = [
		E('h3', {}, [ '%s (%s)'.format(ov.name, state) ])
	];
	if (st.error)
		children.push(E('p', { 'class': 'cbi-section-descr' }, [ _('No status: %s').format(st.error) ]));
	else {
		children.push(infoTable(st));
		children.push(E('h4', {}, [ _('Peers') ]));
		children.push(listTable(st.peers, _('No peers known yet.')));
		if ('links' in st) {
			children.push(E('h4', {}, [ _('Links') ]));
			children.push(listTable(st.links, _('No links.')));
		}
	}
	return E('div', { 'class': 'cbi-section', 'data-overlay': ov.name }, children);
}

function renderAll(overlays, services) {
	var instances = (services && services.instances) || {};
	if (!overlays.length)
		return E('p', {}, [ _('No overlays configured. Add one under IPOP » Overlays.') ]);
	return E('div', {}, overlays.map(function(ov) { return overlayBox(ov, instances); }));
}

return view.extend({
	load: function() {
		return Promise.all([ callStatus(), callServiceList('ipop') ]);
	},

	render: function(data) {
		var container = E('div', { 'id': 'ipop-status' }, [ renderAll(data[0], data[1]) ]);

		poll.add(function() {
			return Promise.all([ callStatus(), callServiceList('ipop') ]).then(function(d) {
				dom.content(container, renderAll(d[0], d[1]));
			});
		}, 5);

		return E('div', {}, [
			E('h2', {}, [ _('IPOP status') ]),
			E('div', { 'class': 'cbi-map-descr' }, [
				_('Each overlay\'s identity, TAP device and peers, refreshed every 5 seconds.')
			]),
			container
		]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
