<?php
/**
 * The Queue screen's chart: webhooks received and jobs finished per hour, drawn as inline SVG
 * on the server (no script, nothing loaded from outside the site). Each hour is a pair of bars
 * with a tooltip (<title>) giving its numbers.
 */

declare(strict_types=1);

final class CrmHooks_Queue_Chart {

	private const WIDTH    = 960;
	private const HEIGHT   = 220;
	private const LEFT     = 44;  // room for the y-axis numbers
	private const RIGHT    = 8;
	private const TOP      = 10;
	private const BOTTOM   = 28;  // room for the hour labels
	private const RECEIVED = '#2271b1';
	private const FINISHED = '#00a32a';

	/** Hours between two labels on the time axis. */
	private const LABEL_EVERY = 6;

	/**
	 * The chart block: legend with totals, the SVG, and a line saying where the numbers come from.
	 *
	 * @param array<int, array{start:int, received:int, finished:int}> $hours oldest first
	 */
	public static function render( array $hours ): string {
		$received = array_sum( array_column( $hours, 'received' ) );
		$finished = array_sum( array_column( $hours, 'finished' ) );
		$html     = '<figure class="crmhooks-chart" id="crmhooks-chart">';
		/* translators: %d: number of hours */
		$html .= '<figcaption><h2>' . esc_html( sprintf( __( 'The last %d hours', 'crmhooks' ), count( $hours ) ) ) . '</h2>';
		$html .= '<p class="crmhooks-legend">';
		/* translators: %s: number of webhooks */
		$html .= self::legend( self::RECEIVED, sprintf( __( 'Webhooks received: %s', 'crmhooks' ), number_format_i18n( $received ) ), 'received' );
		/* translators: %s: number of jobs */
		$html .= self::legend( self::FINISHED, sprintf( __( 'Jobs finished: %s', 'crmhooks' ), number_format_i18n( $finished ) ), 'finished' );
		$html .= '</p></figcaption>';
		$html .= self::svg( $hours );
		$html .= '<p class="description">' . esc_html__( 'Per hour, in the site\'s timezone. Received: each webhook the queue accepted, merged ones included (from the activity log). Finished: each job that ended done, skipped or failed (from the queue). Webhooks processed inline (background processing off) are not counted.', 'crmhooks' ) . '</p>';
		return $html . '</figure>';
	}

	private static function legend( string $colour, string $text, string $series ): string {
		return '<span class="crmhooks-legend-' . esc_attr( $series ) . '"><span class="crmhooks-swatch" style="background:' . esc_attr( $colour ) . '"></span>' . esc_html( $text ) . '</span>';
	}

	/** @param array<int, array{start:int, received:int, finished:int}> $hours */
	private static function svg( array $hours ): string {
		$count  = max( 1, count( $hours ) );
		$plot_w = self::WIDTH - self::LEFT - self::RIGHT;
		$plot_h = self::HEIGHT - self::TOP - self::BOTTOM;
		$top    = self::nice_max( max( array_merge( array( 1 ), array_column( $hours, 'received' ), array_column( $hours, 'finished' ) ) ) );
		$slot   = $plot_w / $count;
		$bar    = max( 1.0, ( $slot - 4 ) / 2 );
		$base_y = self::TOP + $plot_h;
		$label  = __( 'Webhooks received and jobs finished per hour', 'crmhooks' );

		$svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ' . self::WIDTH . ' ' . self::HEIGHT . '" role="img" aria-label="' . esc_attr( $label ) . '" font-family="-apple-system,BlinkMacSystemFont,Segoe UI,Roboto,sans-serif" font-size="11">';
		// Grid lines and y-axis numbers at 0, the top, and half of it when that is a whole number.
		$marks = fmod( $top, 2.0 ) === 0.0 ? array( 0.0, $top / 2, $top ) : array( 0.0, $top );
		foreach ( $marks as $value ) {
			$y    = self::num( $base_y - $plot_h * $value / $top );
			$svg .= '<line x1="' . self::LEFT . '" x2="' . ( self::WIDTH - self::RIGHT ) . '" y1="' . $y . '" y2="' . $y . '" stroke="' . ( $value === 0.0 ? '#8c8f94' : '#dcdcde' ) . '" stroke-width="1"/>';
			$svg .= '<text x="' . ( self::LEFT - 6 ) . '" y="' . $y . '" text-anchor="end" dominant-baseline="middle" fill="#50575e">' . esc_html( number_format_i18n( $value ) ) . '</text>';
		}
		foreach ( array_values( $hours ) as $i => $hour ) {
			$x     = self::LEFT + $i * $slot + 2;
			$title = sprintf(
				/* translators: 1: start time, 2: end time, 3: webhooks received, 4: jobs finished */
				__( '%1$s – %2$s: %3$d webhooks received, %4$d jobs finished', 'crmhooks' ),
				wp_date( 'D H:i', $hour['start'] ),
				wp_date( 'H:i', $hour['start'] + HOUR_IN_SECONDS ),
				$hour['received'],
				$hour['finished']
			);
			$svg .= '<g class="crmhooks-hour" data-start="' . esc_attr( (string) $hour['start'] ) . '" data-received="' . esc_attr( (string) $hour['received'] ) . '" data-finished="' . esc_attr( (string) $hour['finished'] ) . '">';
			$svg .= '<title>' . esc_html( $title ) . '</title>';
			// An invisible full-height rectangle, so the tooltip shows over an empty hour too.
			$svg .= '<rect x="' . self::num( $x - 2 ) . '" y="' . self::TOP . '" width="' . self::num( $slot ) . '" height="' . $plot_h . '" fill="transparent"/>';
			$svg .= self::bar( $x, $bar, $hour['received'], $top, $plot_h, $base_y, self::RECEIVED );
			$svg .= self::bar( $x + $bar, $bar, $hour['finished'], $top, $plot_h, $base_y, self::FINISHED );
			$svg .= '</g>';
			if ( $i % self::LABEL_EVERY === 0 ) {
				$svg .= '<text x="' . self::num( $x ) . '" y="' . ( self::HEIGHT - 8 ) . '" fill="#50575e">' . esc_html( (string) wp_date( 'D H:i', $hour['start'] ) ) . '</text>';
			}
		}
		return $svg . '</svg>';
	}

	private static function bar( float $x, float $width, int $value, float $top, int $plot_h, int $base_y, string $colour ): string {
		if ( $value <= 0 ) {
			return '';
		}
		$height = max( 1.0, $plot_h * $value / $top );
		return '<rect x="' . self::num( $x ) . '" y="' . self::num( $base_y - $height ) . '" width="' . self::num( $width ) . '" height="' . self::num( $height ) . '" fill="' . esc_attr( $colour ) . '"/>';
	}

	/** The axis top: the smallest of 1, 2, 5 times a power of ten that holds $max. */
	private static function nice_max( int $max ): float {
		$power = 10 ** max( 0, (int) floor( log10( max( 1, $max ) ) ) );
		foreach ( array( 1, 2, 5, 10 ) as $step ) {
			if ( $step * $power >= $max ) {
				return (float) ( $step * $power );
			}
		}
		return (float) ( 10 * $power );
	}

	private static function num( float $value ): string {
		return (string) round( $value, 2 );
	}
}
