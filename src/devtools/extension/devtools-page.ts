/** The extension's devtools page: adds the Chronicle panel to the browser's devtools. */
import { chromeApi } from './chrome.ts';

chromeApi().devtools?.panels.create('Chronicle', 'icons/icon-32.png', 'panel.html');
