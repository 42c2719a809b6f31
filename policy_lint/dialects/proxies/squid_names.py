"""The names Squid knows: directives and ACL types.

Squid refuses to start on a directive it does not know (`squid -k parse` says "unrecognized:
'http_acess'" and exits 1; checked against Debian's squid 5.7) and on an unknown ACL type
("FATAL: Invalid ACL type"). Obsolete directives are still recognised: Squid logs an error and
ignores them.

DIRECTIVES is every `TAG:` of Debian's squid 5.7 squid.conf.documented
(/usr/share/doc/squid-common/squid.conf.documented.gz), obsolete ones included, plus the
directives Squid 6 added and the parser's own words (`acl`, `include`, `if`/`else`/`endif`).
ACL_TYPES is every type of that file's `acl` section plus the types of an OpenSSL build
(`ssl::server_name` ...) and the old names Squid still accepts (`myip`, `myport`).
"""

from __future__ import annotations

_DOCUMENTED = """
    accept_filter access_log acl acl_uses_indirect_client adaptation_access
    adaptation_masterx_shared_names adaptation_meta adaptation_send_client_ip
    adaptation_send_username adaptation_service_chain adaptation_service_iteration_limit
    adaptation_service_set adaptation_uses_indirect_client adapted_http_access allow_underscore
    always_direct announce_file announce_host announce_period announce_port append_domain
    as_whois_server auth_param auth_schemes authenticate_cache_garbage_interval authenticate_ip_ttl
    authenticate_ttl background_ping_rate balance_on_multiple_ip broken_posts broken_vary_encoding
    buffered_logs cache cache_dir cache_effective_group cache_effective_user cache_log cache_mem
    cache_mgr cache_miss_revalidate cache_peer cache_peer_access cache_peer_domain
    cache_replacement_policy cache_store_log cache_swap_high cache_swap_low cache_swap_state
    cache_vary cachemgr_passwd check_hostnames chroot chunked_request_body_max_size client_db
    client_delay_access client_delay_initial_bucket_level client_delay_parameters client_delay_pools
    client_dst_passthru client_idle_pconn_timeout client_ip_max_connections client_lifetime
    client_netmask client_persistent_connections client_request_buffer_max_size clientside_tos
    collapsed_forwarding collapsed_forwarding_access configuration_includes_quoted_values
    connect_retries connect_timeout coredump_dir cpu_affinity_map dead_peer_timeout debug_options
    delay_access delay_class delay_initial_bucket_level delay_parameters
    delay_pool_uses_indirect_client delay_pools deny_info detect_broken_pconn digest_bits_per_entry
    digest_generation digest_rebuild_chunk_percentage digest_rebuild_period digest_rewrite_period
    digest_swapout_chunk_size diskd_program dns_defnames dns_multicast_local dns_nameservers
    dns_packet_max dns_retransmit_interval dns_testnames dns_timeout dns_v4_fallback dns_v4_first
    ecap_enable ecap_service email_err_data emulate_httpd_log err_html_text err_page_stylesheet
    error_default_language error_directory error_log_languages error_map esi_parser eui_lookup
    extension_methods external_acl_type external_refresh_check follow_x_forwarded_for
    force_request_body_continuation forward_log forward_max_tries forward_timeout forwarded_for
    fqdncache_size ftp_client_idle_timeout ftp_eprt ftp_epsv ftp_epsv_all ftp_list_width ftp_passive
    ftp_port ftp_sanitycheck ftp_telnet_protocol ftp_user global_internal_static half_closed_clients
    happy_eyeballs_connect_gap happy_eyeballs_connect_limit happy_eyeballs_connect_timeout
    header_access hierarchy_stoplist high_memory_warning high_page_fault_warning
    high_response_time_warning hopeless_kid_revival_delay host_verify_strict hostname_aliases
    hosts_file htcp_access htcp_clr_access htcp_port http_accel_surrogate_remote http_access
    http_port http_reply_access http_upgrade_request_protocols httpd_accel_no_pmtu_disc
    httpd_accel_surrogate_id httpd_suppress_version_string https_port icap_206_enable icap_access
    icap_class icap_client_username_encode icap_client_username_header icap_connect_timeout
    icap_default_options_ttl icap_enable icap_io_timeout icap_log icap_persistent_connections
    icap_preview_enable icap_preview_size icap_retry icap_retry_limit icap_service
    icap_service_failure_limit icap_service_revival_delay icon_directory icp_access icp_hit_stale
    icp_port icp_query_timeout ident_lookup_access ident_timeout ie_refresh ignore_expect_100
    ignore_ims_on_miss ignore_unknown_nameservers incoming_dns_average incoming_rate
    incoming_tcp_average incoming_udp_average ipcache_high ipcache_low ipcache_size loadable_modules
    location_rewrite_program log_access log_fqdn log_icap log_icp_queries log_ip_on_direct
    log_mime_hdrs log_uses_indirect_client logfile_daemon logfile_rotate logformat mail_from
    mail_program mark_client_connection mark_client_packet max_filedescriptors max_open_disk_fds
    max_stale maximum_icp_query_timeout maximum_object_size maximum_object_size_in_memory
    maximum_single_addr_tries mcast_groups mcast_icp_query_timeout mcast_miss_addr
    mcast_miss_encode_key mcast_miss_port mcast_miss_ttl memory_cache_mode memory_cache_shared
    memory_pools memory_pools_limit memory_replacement_policy mime_table min_dns_poll_cnt
    min_tcp_poll_cnt min_udp_poll_cnt minimum_direct_hops minimum_direct_rtt minimum_expiry_time
    minimum_icp_query_timeout minimum_object_size miss_access negative_dns_ttl negative_ttl
    neighbor_type_domain netdb_filename netdb_high netdb_low netdb_ping_period never_direct
    nonhierarchical_direct note offline_mode on_unsupported_protocol pconn_lifetime
    peer_connect_timeout persistent_connection_after_error pid_filename pinger_enable pinger_program
    pipeline_prefetch positive_dns_ttl prefer_direct proxy_protocol_access qos_flows query_icmp
    quick_abort_max quick_abort_min quick_abort_pct range_offset_limit read_ahead_gap read_timeout
    referer_log refresh_all_ims refresh_pattern refresh_stale_hit relaxed_header_parser
    reload_into_ims reply_body_max_size reply_header_access reply_header_add reply_header_max_size
    reply_header_replace request_body_max_size request_entities request_header_access
    request_header_add request_header_max_size request_header_replace request_start_timeout
    request_timeout response_delay_pool response_delay_pool_access retry_on_error send_hit
    server_http11 server_idle_pconn_timeout server_pconn_for_nonretriable
    server_persistent_connections shared_memory_locking shared_transient_entries_limit
    short_icon_urls shutdown_lifetime sleep_after_fork snmp_access snmp_incoming_address
    snmp_outgoing_address snmp_port spoof_client_ip ssl_bump ssl_engine ssl_unclean_shutdown
    sslcrtd_children sslcrtd_program sslcrtvalidator_children sslcrtvalidator_program
    sslpassword_program sslproxy_cafile sslproxy_capath sslproxy_cert_adapt sslproxy_cert_error
    sslproxy_cert_sign sslproxy_cert_sign_hash sslproxy_cipher sslproxy_client_certificate
    sslproxy_client_key sslproxy_flags sslproxy_foreign_intermediate_certs sslproxy_options
    sslproxy_session_cache_size sslproxy_session_ttl sslproxy_version stats_collection
    store_avg_object_size store_dir_select_algorithm store_id_access store_id_bypass
    store_id_children store_id_extras store_id_program store_miss store_objects_per_bucket
    strip_query_terms tcp_outgoing_address tcp_outgoing_mark tcp_outgoing_tos tcp_recv_bufsize
    test_reachability tls_outgoing_options tproxy_uses_indirect_client udp_incoming_address
    udp_outgoing_address umask unique_hostname unlinkd_program update_headers upgrade_http0.9
    uri_whitespace url_rewrite_access url_rewrite_bypass url_rewrite_children
    url_rewrite_concurrency url_rewrite_extras url_rewrite_host_header url_rewrite_program
    url_rewrite_timeout useragent_log vary_ignore_expire via visible_hostname wais_relay_host
    wais_relay_port wccp2_address wccp2_assignment_method wccp2_forwarding_method wccp2_rebuild_wait
    wccp2_return_method wccp2_router wccp2_service wccp2_service_info wccp2_weight wccp_address
    wccp_router wccp_version windows_ipaddrchangemonitor workers write_timeout zero_buffers
    zph_local
"""

# Squid 6 (squid-cache.org/Doc/config): directives newer than Debian's 5.7.
_SQUID6 = ("cache_log_message", "tls_key_log", "paranoid_hit_validation")
_PARSER = ("acl", "include", "if", "else", "endif")

DIRECTIVES = frozenset(_DOCUMENTED.split()) | frozenset(_SQUID6) | frozenset(_PARSER)

# ACL types, by what policy-lint does with them (squid.py):
# - decided per request (what is asked for):
REQUEST_TYPES = frozenset(
    {
        "dstdomain",
        "dstdom_regex",
        "url_regex",
        "urlpath_regex",
        "dst",
        "dst_as",
        "port",
        "method",
        "proto",
        "ssl::server_name",
        "ssl::server_name_regex",
        "at_step",
        "urllogin",
    }
)
# - decided by who asks, modelled through representative clients:
CLIENT_DIMENSION_TYPES = frozenset({"src", "arp", "eui64", "proxy_auth", "time"})
# - decided by who asks (or how they connect), not by what they ask for: a free condition,
#   true for some clients and false for others (an audience of its own):
CLIENT_FREE_TYPES = frozenset(
    {
        "proxy_auth_regex",
        "ident",
        "ident_regex",
        "srcdomain",
        "srcdom_regex",
        "src_as",
        "browser",
        "maxconn",
        "max_user_ip",
        "myportname",
        "localport",
        "localip",
        "myip",
        "myport",
        "ext_user",
        "ext_user_regex",
        "user_cert",
        "ca_cert",
        "clientside_mark",
        "client_connection_mark",
        "snmp_community",
        "random",
        "external",  # unless its helper is given request fields (squid.py checks the format)
    }
)
# - may depend on what is requested, or on the reply, and are not evaluated: a rule using one
#   matches `unknown` (TE908), never "no" and never "yes":
UNMODELLED_TYPES = frozenset(
    {
        "req_header",
        "req_mime_type",
        "referer_regex",
        "rep_header",
        "rep_mime_type",
        "http_status",
        "hier_code",
        "peername",
        "peername_regex",
        "note",
        "tag",
        "adaptation_service",
        "any-of",
        "all-of",
        "squid_error",
        "ssl_error",
        "server_cert_fingerprint",
        "connections_encrypted",
        "transaction_initiator",
        "has",
        "annotate_transaction",
        "annotate_client",
    }
)
ACL_TYPES = REQUEST_TYPES | CLIENT_DIMENSION_TYPES | CLIENT_FREE_TYPES | UNMODELLED_TYPES
