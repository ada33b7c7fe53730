<?php
/**
 * The library cannot be used in this PHP process; the message says what to change.
 */

declare(strict_types=1);

final class CrmHooks_Native_Unavailable extends RuntimeException {

}
