'use strict';
'require view';
'require form';
'require uci';

// Editor for /etc/config/ipop: one named `config overlay 'NAME'` section per
// overlay. Option names are ipop's UCI options (the IPOP 16.01 JSON keys,
// flattened); keys that have no effect in ipop (contr_port, svpn_port,
// StatReport, CentralVisualizer) are not offered. The init script starts
// `ipop run --uci NAME` for each enabled section on save & apply.

var boards = [ 'mt7621', 'ath79-64mb', 'filogic', 'rpi2', 'rpi3', 'rpi4', 'rpi5', 'x86_64' ];

function num(s, tab, name, title, min, max, placeholder, descr) {
	var o = s.taboption(tab, form.Value, name, title, descr);
	o.datatype = 'range(%d,%d)'.format(min, max);
	o.placeholder = placeholder;
	o.modalonly = true;
	return o;
}

return view.extend({
	load: function() {
		return uci.load('ipop');
	},

	render: function() {
		var m, s, o;

		m = new form.Map('ipop', _('IPOP overlays'),
			_('Each overlay is an encrypted peer-to-peer network on its own TAP device. ' +
			  'Peers find each other through an XMPP server (or static peers) and connect ' +
			  'directly through NATs. A nested (inner) overlay can ride on the TAP of an ' +
			  'outer one: list the outer overlay before the inner one.'));

		s = m.section(form.GridSection, 'overlay', _('Overlays'));
		s.addremove = true;
		s.anonymous = false;
		s.nodescriptions = true;
		s.sortable = true;
		s.addbtntitle = _('Add overlay');
		s.modaltitle = function(name) { return _('Overlay') + ' » ' + name; };

		s.tab('general', _('General'));
		s.tab('xmpp', _('Signalling (XMPP)'));
		s.tab('links', _('Links and NAT traversal'));
		s.tab('topology', _('Topology'));
		s.tab('advanced', _('Advanced'));

		// --- General ---
		o = s.taboption('general', form.Flag, 'enabled', _('Enabled'));
		o.default = '1';
		o.rmempty = false;
		o.editable = true;

		o = s.taboption('general', form.Value, 'tap_name', _('TAP device'),
			_('Name of the TAP device this overlay creates.'));
		o.datatype = 'and(maxlength(15),minlength(1))';
		o.placeholder = 'ipop';

		o = s.taboption('general', form.Value, 'ip4', _('Overlay IPv4 address'),
			_('This node\'s address in the overlay; its UID and IPv6 address derive from it.'));
		o.datatype = 'ip4addr("nomask")';
		o.rmempty = false;

		o = s.taboption('general', form.Value, 'ip4_mask', _('IPv4 prefix length'));
		o.datatype = 'range(1,32)';
		o.placeholder = '24';

		o = s.taboption('general', form.ListValue, 'switchmode', _('Mode'));
		o.value('0', _('Routed (L3)'));
		o.value('1', _('Switched (L2, Ethernet)'));
		o.default = '0';

		o = s.taboption('general', form.Value, 'bridge', _('Bridge'),
			_('Switch mode: Linux bridge the TAP joins, e.g. br-lan to put the LAN into the overlay; it joins again when the bridge is re-created.'));
		o.datatype = 'maxlength(15)';
		o.depends('switchmode', '1');
		o.modalonly = true;

		o = s.taboption('general', form.Value, 'mtu', _('MTU'),
			_('Empty: the bridge\'s MTU, else 1500 in switch mode, 1280 routed. Larger frames than a path carries are fragmented inside the overlay.'));
		o.datatype = 'range(576,9000)';
		o.placeholder = _('automatic');
		o.modalonly = true;

		o = s.taboption('general', form.Flag, 'mss_clamp', _('Clamp TCP MSS'),
			_('Lower the MSS of TCP connections crossing the overlay so their segments fit each link\'s path MTU.'));
		o.default = '1';
		o.modalonly = true;

		o = s.taboption('general', form.Value, 'listen_port', _('UDP port'),
			_('Port of the overlay\'s UDP socket; 0 picks any. The firewall opens it while the overlay runs.'));
		o.datatype = 'port';
		o.placeholder = '0';

		o = s.taboption('general', form.ListValue, 'vpn_type', _('VPN type'));
		o.value('GroupVPN', 'GroupVPN');
		o.default = 'GroupVPN';
		o.modalonly = true;

		// --- XMPP ---
		o = s.taboption('xmpp', form.Value, 'xmpp_username', _('XMPP account'),
			_('JID of this node, e.g. node1@example.org.'));
		o.modalonly = true;

		o = s.taboption('xmpp', form.Value, 'xmpp_password', _('XMPP password'));
		o.password = true;
		o.modalonly = true;

		o = s.taboption('xmpp', form.Value, 'xmpp_host', _('XMPP server'));
		o.datatype = 'host';
		o.modalonly = true;

		o = s.taboption('xmpp', form.Value, 'xmpp_port', _('XMPP port'));
		o.datatype = 'port';
		o.placeholder = '5222';
		o.modalonly = true;

		o = s.taboption('xmpp', form.Value, 'xmpp_ca_file', _('CA bundle'),
			_('Verify the server\'s TLS certificate against this file.'));
		o.placeholder = '/etc/ssl/certs/ca-certificates.crt';
		o.modalonly = true;

		o = s.taboption('xmpp', form.Value, 'xmpp_pinned_cert', _('Pinned certificate'),
			_('Accept exactly this server certificate (PEM file), e.g. a self-signed one.'));
		o.modalonly = true;

		o = s.taboption('xmpp', form.Flag, 'xmpp_insecure', _('Accept any certificate'),
			_('Lab servers only: TLS without certificate checks.'));
		o.modalonly = true;

		// --- Links ---
		o = s.taboption('links', form.DynamicList, 'network_ignore_list', _('Ignored interfaces'),
			_('Interfaces never offered as link endpoints (e.g. the inner overlay\'s TAP, lxcbr0).'));
		o.datatype = 'maxlength(15)';
		o.modalonly = true;

		o = s.taboption('links', form.DynamicList, 'stun', _('STUN servers'),
			_('host:port, used to learn this node\'s public address.'));
		o.placeholder = 'stun.example.org:3478';
		o.modalonly = true;

		o = s.taboption('links', form.DynamicList, 'turn', _('TURN servers'),
			_('Relays for peers behind symmetric NATs: user:password@host:port.'));
		o.placeholder = 'user:pass@turn.example.org:3478';
		o.modalonly = true;

		o = s.taboption('links', form.DynamicList, 'static_peer', _('Static peers'),
			_('Bootstrap peers for groups without an XMPP server: public-key@host:port ' +
			  '(the key is the peer\'s `ipop pubkey`, base64).'));
		o.placeholder = 'base64key=@203.0.113.7:5800';
		o.modalonly = true;

		o = s.taboption('links', form.Value, 'group_secret', _('Group secret'),
			_('Optional pre-shared key; every member of the overlay needs the same one.'));
		o.password = true;
		o.modalonly = true;

		o = s.taboption('links', form.Value, 'group_secret_next', _('Next group secret'),
			_('During a rotation: the secret the group moves to. Accepted at once, used once a peer ' +
			  'uses it or `ipop secret rotate` runs.'));
		o.password = true;
		o.modalonly = true;

		num(s, 'links', 'group_secret_grace', _('Old secret kept (s)'), 1, 86400, '3600');

		o = s.taboption('links', form.DynamicList, 'revoked_key', _('Revoked keys'),
			_('Public keys (base64) of members thrown out: no handshake, links closed, never gossiped.'));
		o.placeholder = 'base64key=';
		o.modalonly = true;

		o = s.taboption('links', form.Value, 'operator_key', _('Operator key'),
			_('Ed25519 public key (base64) whose signed membership statements this node accepts ' +
			  '(`ipop genkey --operator` prints it).'));
		o.modalonly = true;

		// --- Topology (IPOP 16.01 BaseTopologyManager; units as there) ---
		o = s.taboption('topology', form.Flag, 'sec', _('Encrypt links'));
		o.default = '1';
		o.modalonly = true;
		num(s, 'topology', 'num_successors', _('Successor links'), 0, 1024, '20');
		num(s, 'topology', 'num_chords', _('Chord links'), 0, 160, '10');
		num(s, 'topology', 'num_on_demand', _('On-demand links'), 0, 1024, '20');
		num(s, 'topology', 'num_inbound', _('Inbound links'), 0, 1024, '50');
		num(s, 'topology', 'ttl_link_initial', _('Initial link TTL (s)'), 1, 86400, '60');
		num(s, 'topology', 'ttl_link_pulse', _('Link pulse TTL (s)'), 1, 86400, '30');
		num(s, 'topology', 'ttl_chord', _('Chord TTL (s)'), 1, 86400, '180');
		num(s, 'topology', 'ttl_on_demand', _('On-demand TTL (s)'), 1, 86400, '240');
		num(s, 'topology', 'threshold_on_demand', _('On-demand threshold (bytes/s)'), 0, 4294967295, '128');
		num(s, 'topology', 'timer_interval', _('Timer interval (s)'), 1, 3600, '1');
		num(s, 'topology', 'interval_management', _('Management interval (ticks)'), 1, 86400, '15');
		num(s, 'topology', 'num_pings', _('Pings'), 0, 1000, '5');
		num(s, 'topology', 'interval_ping', _('Ping interval (ticks)'), 1, 86400, '300');

		// --- Advanced ---
		o = s.taboption('advanced', form.ListValue, 'board', _('Board profile'),
			_('Memory limits (buffer pool, peer and link caps); automatic detection if unset.'));
		o.value('', _('automatic'));
		boards.forEach(function(b) { o.value(b, b); });
		o.modalonly = true;

		o = s.taboption('advanced', form.Value, 'ip6_prefix', _('IPv6 prefix'),
			_('First 64 bits of the overlay IPv6 addresses.'));
		o.placeholder = 'fd50:dbc:41f2:4a3c';
		o.modalonly = true;

		num(s, 'advanced', 'ip6_mask', _('IPv6 prefix length'), 1, 128, '64');
		num(s, 'advanced', 'subnet_mask', _('Subnet prefix length'), 1, 32, '32');

		o = s.taboption('advanced', form.Value, 'key_file', _('Key file'),
			_('This node\'s X25519 private key, created on first start (mode 0600).'));
		o.placeholder = '/etc/ipop/<tap>.key';
		o.modalonly = true;

		o = s.taboption('advanced', form.Value, 'control_socket', _('Control socket'));
		o.placeholder = '/var/run/ipop/<tap>.sock';
		o.modalonly = true;

		o = s.taboption('advanced', form.ListValue, 'controller_logging', _('Log level'));
		[ 'CRITICAL', 'ERROR', 'WARNING', 'INFO', 'DEBUG', 'PKTDUMP' ].forEach(function(l) { o.value(l, l); });
		o.default = 'ERROR';
		o.modalonly = true;

		o = s.taboption('advanced', form.ListValue, 'tincan_logging', _('Datapath log level'));
		o.value('0', _('off'));
		o.value('1', _('errors'));
		o.value('2', _('info'));
		o.value('3', _('verbose'));
		o.default = '1';
		o.modalonly = true;

		return m.render();
	}
});
