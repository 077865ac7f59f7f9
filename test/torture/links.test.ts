/** The short torture run's section of reliable direct links (see fixtures/in-suite.ts for why a file each). */
import { tortureSection } from './fixtures/in-suite.js'

tortureSection('links')
