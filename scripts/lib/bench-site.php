<?php
/**
 * Site-side steps of scripts/bench.sh (PHP CLI with WordPress loaded; the stack's environment
 * from `scripts/stack.sh env`). Every command prints one line for bench.sh to read.
 *
 *   settings-save FILE | settings-restore FILE | settings-set JSON   the crmhooks_settings option
 *   contacts FIRST COUNT     COUNT ActiveCampaign contacts in the stand-in (IDs FIRST..), and a
 *                            WordPress user for each, linked by contact ID, in a stale state
 *   stale FIRST COUNT        the users back to the stale state (before the inline flood)
 *   verify FIRST COUNT       users that match the stand-in (email, names, the mapped field, tags):
 *                            "matched COUNT first_mismatch"
 *   backlog FIRST COUNT      one due `update` job per contact, as a webhook queues it
 *   queue-clear              no jobs; the stand-in's request log emptied
 *   wait-idle SECONDS        waits until no job is queued or running: "idle|timeout done failed last_updated_at"
 *   hold-lock FLAG           holds the drain lock (no drainer can run) until FLAG is removed
 *   cleanup FIRST COUNT      removes the bench users and jobs
 */

declare(strict_types=1);

$site                    = (string) getenv( 'CRMHOOKS_SITE_URL' );
$_SERVER['HTTP_HOST']    = parse_url( $site, PHP_URL_HOST ) . ':' . parse_url( $site, PHP_URL_PORT );
$_SERVER['REQUEST_URI']  = '/';
$_SERVER['SERVER_NAME']  = (string) parse_url( $site, PHP_URL_HOST );
require getenv( 'CRMHOOKS_WP_DIR' ) . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/user.php';

/** The mapped field the flood checks (ActiveCampaign field 1, "Membership Level"). */
const BENCH_LEVEL_META = 'crmhooks_bench_level';

function bench_standin( string $method, string $path, ?array $body = null ) {
	$response = wp_remote_request(
		rtrim( (string) getenv( 'CRMHOOKS_STANDIN_URL' ), '/' ) . '/_control/' . $path,
		array(
			'method'  => $method,
			'timeout' => 60,
			'headers' => array( 'Content-Type' => 'application/json' ),
			'body'    => $body === null ? null : wp_json_encode( $body ),
		)
	);
	if ( is_wp_error( $response ) || wp_remote_retrieve_response_code( $response ) !== 200 ) {
		fwrite( STDERR, "stand-in $method $path failed: " . ( is_wp_error( $response ) ? $response->get_error_message() : wp_remote_retrieve_body( $response ) ) . "\n" );
		exit( 1 );
	}
	return json_decode( wp_remote_retrieve_body( $response ), true );
}

function bench_ids( array $argv ): array {
	$first = (int) ( $argv[2] ?? 0 );
	return array_map( 'strval', range( $first, $first + max( 1, (int) ( $argv[3] ?? 1 ) ) - 1 ) );
}

function bench_stale( array $ids ): void {
	foreach ( $ids as $id ) {
		$user = get_user_by( 'email', "bench{$id}@example.com" );
		$uid  = $user ? $user->ID : wp_insert_user(
			array(
				'user_login' => "bench{$id}",
				'user_email' => "bench{$id}@example.com",
				'user_pass'  => wp_generate_password(),
				'role'       => 'subscriber',
			)
		);
		if ( is_wp_error( $uid ) ) {
			fwrite( STDERR, 'could not create a bench user: ' . $uid->get_error_message() . "\n" );
			exit( 1 );
		}
		update_user_meta( $uid, 'first_name', 'Stale' );
		update_user_meta( $uid, 'last_name', 'Stale' );
		update_user_meta( $uid, CrmHooks_Users::META_CONTACT_ID, $id );
		delete_user_meta( $uid, CrmHooks_Users::META_TAGS );
		delete_user_meta( $uid, CrmHooks_Users::META_TAG_NAMES );
		delete_user_meta( $uid, BENCH_LEVEL_META );
	}
}

function bench_clear_queue(): void {
	global $wpdb;
	$wpdb->query( "DELETE FROM {$wpdb->prefix}crmhooks_jobs" );
	$wpdb->query( "DELETE FROM {$wpdb->prefix}crmhooks_writes" );
}

$command = $argv[1] ?? '';
switch ( $command ) {
	case 'settings-save':
		file_put_contents( $argv[2], (string) wp_json_encode( get_option( 'crmhooks_settings' ) ) );
		echo "saved\n";
		break;
	case 'settings-restore':
		update_option( 'crmhooks_settings', json_decode( (string) file_get_contents( $argv[2] ), true ) );
		echo "restored\n";
		break;
	case 'settings-set':
		update_option( 'crmhooks_settings', array_merge( (array) get_option( 'crmhooks_settings' ), (array) json_decode( $argv[2], true ) ) );
		echo "set\n";
		break;
	case 'contacts':
		$ids = bench_ids( $argv );
		bench_standin( 'POST', 'reset' );
		bench_standin(
			'POST',
			'ac/contacts',
			array(
				'count'      => count( $ids ),
				'first_id'   => (int) $ids[0],
				'email'      => 'bench{id}@example.com',
				'first_name' => 'Flood{n}',
				'last_name'  => 'Bench{id}',
				'tags'       => array( 'member', 'bulk-edited' ),
				'fields'     => array( '1' => 'Level {id}' ),
			)
		);
		bench_stale( $ids );
		echo count( $ids ) . " contacts\n";
		break;
	case 'stale':
		bench_stale( bench_ids( $argv ) );
		echo "stale\n";
		break;
	case 'verify':
		$ids     = bench_ids( $argv );
		$state   = bench_standin( 'GET', 'state' );
		$crm     = array_column( (array) $state['activecampaign']['contacts'], null, 'id' );
		$matched = 0;
		$first   = '-';
		wp_cache_flush();
		foreach ( $ids as $id ) {
			$user = get_user_by( 'email', "bench{$id}@example.com" );
			$want = $crm[ $id ] ?? null;
			$tags = $user ? array_column( (array) get_user_meta( $user->ID, CrmHooks_Users::META_TAGS, true ), 'name' ) : array();
			sort( $tags );
			$want_tags = (array) ( $want['tag_names'] ?? array() );
			sort( $want_tags );
			$ok = $user && $want
				&& get_user_meta( $user->ID, 'first_name', true ) === $want['first_name']
				&& get_user_meta( $user->ID, 'last_name', true ) === $want['last_name']
				&& get_user_meta( $user->ID, BENCH_LEVEL_META, true ) === ( $want['fields']['1'] ?? '' )
				&& $tags === $want_tags;
			$matched += $ok ? 1 : 0;
			$first    = ! $ok && $first === '-' ? $id : $first;
		}
		echo "$matched " . count( $ids ) . " $first\n";
		break;
	case 'backlog':
		$key = (string) CrmHooks_Settings::get( 'access_key' );
		foreach ( bench_ids( $argv ) as $id ) {
			$request = CrmHooks_Native::get()->webhook_receive( 'GET', "wpf_action=update&contact_id={$id}&access_key=" . rawurlencode( $key ), '', '', $key )['request'];
			$verdict = CrmHooks_Jobs::decide(
				array(
					'kind'    => 'accept',
					'now'     => time(),
					'request' => $request,
					'nonce'   => bin2hex( random_bytes( 8 ) ),
					'backlog' => 0,
				)
			);
			CrmHooks_Jobs::enqueue( (string) $verdict['contact_key'], $request, CrmHooks_Settings::account_id() );
		}
		global $wpdb;
		$wpdb->query( $wpdb->prepare( "UPDATE {$wpdb->prefix}crmhooks_jobs SET run_after = %d WHERE status = 'queued'", time() ) ); // Due now, not after the settle time.
		echo 'backlog ' . CrmHooks_Jobs::backlog() . "\n";
		break;
	case 'queue-clear':
		bench_clear_queue();
		bench_standin( 'DELETE', 'log' );
		echo "clear\n";
		break;
	case 'wait-idle':
		global $wpdb;
		$deadline = microtime( true ) + (float) ( $argv[2] ?? 300 );
		while ( CrmHooks_Jobs::backlog() > 0 && microtime( true ) < $deadline ) {
			usleep( 200000 );
		}
		$row = $wpdb->get_row( "SELECT SUM(status = 'done') AS done, SUM(status = 'failed') AS failed, MAX(updated_at) AS last FROM {$wpdb->prefix}crmhooks_jobs", ARRAY_A );
		printf( "%s %d %d %d\n", CrmHooks_Jobs::backlog() > 0 ? 'timeout' : 'idle', (int) $row['done'], (int) $row['failed'], (int) $row['last'] );
		break;
	case 'hold-lock':
		global $wpdb;
		if ( (string) $wpdb->get_var( $wpdb->prepare( 'SELECT GET_LOCK(%s, 120)', CrmHooks_Worker::lock_name() ) ) !== '1' ) {
			fwrite( STDERR, "the drain lock could not be taken in 120 s\n" );
			exit( 1 );
		}
		touch( $argv[2] . '.held' );
		while ( file_exists( $argv[2] ) ) {
			usleep( 50000 );
		}
		$wpdb->get_var( $wpdb->prepare( 'SELECT RELEASE_LOCK(%s)', CrmHooks_Worker::lock_name() ) );
		unlink( $argv[2] . '.held' );
		break;
	case 'cleanup':
		foreach ( bench_ids( $argv ) as $id ) {
			$user = get_user_by( 'email', "bench{$id}@example.com" );
			if ( $user ) {
				wp_delete_user( $user->ID );
			}
		}
		bench_clear_queue();
		echo "clean\n";
		break;
	default:
		fwrite( STDERR, "unknown command: $command\n" );
		exit( 2 );
}
