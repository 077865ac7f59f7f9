/** The short torture run's data section (see fixtures/in-suite.ts for why a file each). */
import { tortureSection } from './fixtures/in-suite.js'

tortureSection('data')
